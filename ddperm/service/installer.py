"""``ddperm service install | uninstall | status | start | stop`` on Windows and on Linux.

Installing does what Docker Desktop's installer does for its helper: creates the service
group (docker-users) if missing, adds the installing user, registers the service to run
as SYSTEM (root) and start with the machine, and records the install-time settings where
only administrators can change them. Uninstalling stops and removes the service and
leaves the group and the audit log alone unless asked.

Each platform is one small class over interfaces: ``WindowsPlatform`` over the Service
Control Manager, registry and Event Log (``windows_scm``), ``SystemdPlatform`` over unit
files and ``systemctl``. Tests use the real ``SystemdPlatform`` with a unit folder of
their own and a fake Windows (``ddperm.testing.scm``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from ddperm.errors import DdpermError, PolicyError
from ddperm.service import groups
from ddperm.service.settings import ServiceSettings
from ddperm.service.systemd import UNIT, UNIT_DIR, unit_files
from ddperm.service.windows_scm import (
    SERVICE_NAME,
    EventLog,
    ServiceManager,
    ServiceSpec,
    SettingsStore,
)


class ServiceStatus(BaseModel):
    """Whether the service is installed, its state, and the settings it was installed with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    installed: bool
    state: str | None
    settings: ServiceSettings | None


class InstallReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group_created: bool
    user_added: str | None
    status: ServiceStatus


class Accounts(Protocol):
    """The group administration install needs (``ddperm.service.groups`` is the real one)."""

    def is_admin(self) -> bool: ...

    def create_group(self, group: str) -> bool: ...

    def delete_group(self, group: str) -> None: ...

    def add_member(self, user: str, group: str) -> object: ...


class Platform(Protocol):
    def register(self, settings: ServiceSettings, command: list[str]) -> None: ...

    def unregister(self) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> ServiceStatus: ...


class WindowsPlatform:
    """The service in the Service Control Manager, settings in HKLM, events in the Event Log."""

    def __init__(self, scm: ServiceManager, store: SettingsStore, events: EventLog) -> None:
        self.scm, self.store, self.events = scm, store, events

    def register(self, settings: ServiceSettings, command: list[str]) -> None:
        if self.scm.state(SERVICE_NAME) is not None:
            raise DdpermError("the ddperm service is already installed; uninstall it first")
        self.store.write(settings)
        self.events.register()
        self.scm.create(
            ServiceSpec(
                name=SERVICE_NAME,
                display_name="ddperm privileged helper",
                description=(
                    "Docker Desktop's privileged jobs for members of "
                    f"{settings.group}, on the pipe {settings.address}."
                ),
                command=[*command, "service", "run"],
            )
        )

    def unregister(self) -> None:
        self.scm.stop(SERVICE_NAME, timeout=60)
        self.scm.delete(SERVICE_NAME)
        self.store.delete()
        self.events.unregister()

    def start(self) -> None:
        self.scm.start(SERVICE_NAME)

    def stop(self) -> None:
        self.scm.stop(SERVICE_NAME, timeout=60)

    def status(self) -> ServiceStatus:
        state = self.scm.state(SERVICE_NAME)
        settings = self.store.read() if state is not None else None
        return ServiceStatus(installed=state is not None, state=state, settings=settings)


Run = Callable[[list[str]], None]


def _systemctl(arguments: list[str]) -> None:
    done = subprocess.run(["systemctl", *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DdpermError(f"systemctl {' '.join(arguments)} failed: {done.stderr.strip()}")


class SystemdPlatform:
    """A socket unit and a service unit in ``unit_dir``, driven by ``systemctl``."""

    def __init__(self, unit_dir: Path = UNIT_DIR, run: Run = _systemctl) -> None:
        self.unit_dir, self.run = unit_dir, run

    def _paths(self) -> list[Path]:
        return [self.unit_dir / f"{UNIT}.socket", self.unit_dir / f"{UNIT}.service"]

    def register(self, settings: ServiceSettings, command: list[str]) -> None:
        if any(p.exists() for p in self._paths()):
            raise DdpermError(f"{UNIT} units already exist in {self.unit_dir}; uninstall first")
        for name, text in unit_files(settings, command).items():
            path = self.unit_dir / name
            path.write_text(text)
            path.chmod(0o644)
        (self.unit_dir / f"{UNIT}.settings.json").write_text(settings.model_dump_json())
        self.run(["daemon-reload"])
        self.run(["enable", f"{UNIT}.socket"])

    def unregister(self) -> None:
        self.run(["disable", "--now", f"{UNIT}.socket", f"{UNIT}.service"])
        for path in [*self._paths(), self.unit_dir / f"{UNIT}.settings.json"]:
            path.unlink(missing_ok=True)
        self.run(["daemon-reload"])

    def start(self) -> None:
        self.run(["start", f"{UNIT}.socket"])

    def stop(self) -> None:
        self.run(["stop", f"{UNIT}.socket", f"{UNIT}.service"])

    def status(self) -> ServiceStatus:
        settings_file = self.unit_dir / f"{UNIT}.settings.json"
        if not settings_file.exists():
            return ServiceStatus(installed=False, state=None, settings=None)
        settings = ServiceSettings.model_validate_json(settings_file.read_text())
        done = subprocess.run(
            ["systemctl", "is-active", f"{UNIT}.socket"], capture_output=True, text=True
        )
        return ServiceStatus(installed=True, state=done.stdout.strip() or None, settings=settings)


def ddperm_command() -> list[str]:
    """How the service starts ddperm: this interpreter, ``-m ddperm``."""
    return [sys.executable, "-m", "ddperm"]


def install(
    platform: Platform,
    settings: ServiceSettings,
    *,
    user: str | None,
    start: bool = True,
    accounts: Accounts = groups,
) -> InstallReport:
    """Create the group, add ``user``, register the service with ``settings`` and start it."""
    if not accounts.is_admin():
        raise PolicyError("only an administrator may install the service; nothing was changed")
    created = accounts.create_group(settings.group)
    if user:
        accounts.add_member(user, settings.group)
    platform.register(settings, ddperm_command())
    if start:
        platform.start()
    return InstallReport(group_created=created, user_added=user, status=platform.status())


def uninstall(
    platform: Platform,
    *,
    remove_group: str | None = None,
    remove_audit_log: Path | None = None,
    accounts: Accounts = groups,
) -> ServiceStatus:
    """Stop and remove the service; the group and the audit log only when named."""
    if not accounts.is_admin():
        raise PolicyError("only an administrator may uninstall the service; nothing was changed")
    platform.unregister()
    if remove_group:
        accounts.delete_group(remove_group)
    if remove_audit_log is not None and remove_audit_log.parent.is_dir():
        shutil.rmtree(remove_audit_log.parent)
    return platform.status()


def this_platform() -> Platform:
    """The real platform of this machine."""
    if sys.platform == "win32":
        from ddperm.service.windows_scm import (
            RegistrySettings,
            WindowsEventLog,
            WindowsServiceManager,
        )

        return WindowsPlatform(WindowsServiceManager(), RegistrySettings(), WindowsEventLog())
    return SystemdPlatform()
