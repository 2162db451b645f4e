"""A fake Windows for the service installer: Service Control Manager, HKLM settings, Event Log
and local groups, each failing the way Windows does where the installer could trip.

- ``CreateService`` on an existing name fails (ERROR_SERVICE_EXISTS, 1073), and with
  ERROR_SERVICE_MARKED_FOR_DELETE (1072) while a deleted service is still running;
- ``StartService`` on a running service fails (ERROR_SERVICE_ALREADY_RUNNING, 1056);
- ``DeleteService`` only marks a running service for deletion: it goes when it stops.
Sources: Microsoft's Win32 reference pages for CreateServiceW, StartServiceW, DeleteService.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ddperm.service.installer import WindowsPlatform
from ddperm.service.settings import ServiceSettings
from ddperm.service.windows_scm import ServiceSpec, ServiceState


class FakeWindowsError(OSError):
    """What pywin32 raises, with the Win32 error code."""

    def __init__(self, winerror: int, message: str) -> None:
        super().__init__(winerror, message)
        self.winerror = winerror


@dataclass
class FakeService:
    spec: ServiceSpec
    state: ServiceState = "stopped"
    marked_for_delete: bool = False


@dataclass
class FakeSCM:
    services: dict[str, FakeService] = field(default_factory=dict)

    def state(self, name: str) -> ServiceState | None:
        service = self.services.get(name)
        return None if service is None else service.state

    def create(self, spec: ServiceSpec) -> None:
        existing = self.services.get(spec.name)
        if existing is not None:
            code = 1072 if existing.marked_for_delete else 1073
            raise FakeWindowsError(code, "The specified service already exists.")
        self.services[spec.name] = FakeService(spec)

    def start(self, name: str) -> None:
        service = self.services[name]
        if service.state == "running":
            raise FakeWindowsError(1056, "An instance of the service is already running.")
        service.state = "running"

    def stop(self, name: str, timeout: float) -> None:
        service = self.services.get(name)
        if service is None:
            return
        service.state = "stopped"
        if service.marked_for_delete:
            del self.services[name]

    def delete(self, name: str) -> None:
        service = self.services.get(name)
        if service is not None and service.state == "stopped":
            del self.services[name]
        elif service is not None:
            service.marked_for_delete = True


@dataclass
class FakeRegistry:
    settings: ServiceSettings | None = None

    def read(self) -> ServiceSettings | None:
        return self.settings

    def write(self, settings: ServiceSettings) -> None:
        self.settings = settings

    def delete(self) -> None:
        self.settings = None


@dataclass
class FakeEventLog:
    sources: set[str] = field(default_factory=set)
    events: list[tuple[str, str]] = field(default_factory=list)

    def register(self) -> None:
        self.sources.add("ddperm")

    def unregister(self) -> None:
        self.sources.discard("ddperm")

    def report(self, kind: Literal["info", "error"], message: str) -> None:
        self.events.append((kind, message))


@dataclass
class FakeAccounts:
    groups: dict[str, set[str]] = field(default_factory=dict)
    elevated: bool = True

    def is_admin(self) -> bool:
        return self.elevated

    def create_group(self, group: str) -> bool:
        if group in self.groups:
            return False
        self.groups[group] = set()
        return True

    def delete_group(self, group: str) -> None:
        self.groups.pop(group, None)

    def add_member(self, user: str, group: str) -> object:
        self.groups[group].add(user)
        return sorted(self.groups[group])


@dataclass
class FakeWindows:
    """One machine: its SCM, settings key, event log and local groups."""

    scm: FakeSCM = field(default_factory=FakeSCM)
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    event_log: FakeEventLog = field(default_factory=FakeEventLog)
    accounts: FakeAccounts = field(default_factory=FakeAccounts)

    def platform(self) -> WindowsPlatform:
        return WindowsPlatform(self.scm, self.registry, self.event_log)
