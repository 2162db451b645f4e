"""``ddperm service install | uninstall | status``: Windows against a fake SCM, Linux for real.

The Linux units are checked by ``systemd-analyze verify`` and run under
``systemd-socket-activate`` (both from Debian's systemd package), which hands the service
its listening socket the way systemd does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddperm.errors import DdpermError, PolicyError
from ddperm.service import Client
from ddperm.service.installer import SystemdPlatform, install, uninstall
from ddperm.service.settings import ServiceSettings
from ddperm.service.systemd import unit_files
from ddperm.testing.scm import FakeWindows
from tests.test_service_helpers import own_group

PIPE = r"\\.\pipe\ddperm"


def windows_settings(**changes: object) -> ServiceSettings:
    base = {
        "address": PIPE,
        "audit_log": r"C:\ProgramData\ddperm-service\audit.jsonl",
        "group": "docker-users",
    }
    return ServiceSettings.model_validate(base | changes)


# -- Windows, against the fake Service Control Manager -----------------------------------------


def test_install_registers_an_automatic_localsystem_service_that_restarts_on_failure() -> None:
    windows = FakeWindows()
    report = install(
        windows.platform(), windows_settings(), user=r"DEV-PC01\dev", accounts=windows.accounts
    )
    service = windows.scm.services["ddperm"]
    assert (service.spec.account, service.spec.start) == ("LocalSystem", "auto")
    assert service.spec.restart_delays_ms and service.spec.reset_failures_after_s > 0
    assert service.spec.command[-2:] == ["service", "run"]
    assert PIPE in service.spec.description
    assert service.state == "running"
    assert windows.accounts.groups == {"docker-users": {r"DEV-PC01\dev"}}
    assert report.group_created and report.status.state == "running"
    assert "ddperm" in windows.event_log.sources


def test_no_windows_containers_is_kept_where_only_administrators_can_change_it() -> None:
    windows = FakeWindows()
    install(
        windows.platform(),
        windows_settings(windows_containers_enabled=False),
        user=None,
        accounts=windows.accounts,
    )
    assert windows.registry.settings is not None
    assert windows.registry.settings.windows_containers_enabled is False
    assert windows.platform().status().settings == windows.registry.settings


def test_an_existing_group_is_kept_and_the_user_added() -> None:
    windows = FakeWindows()
    windows.accounts.groups["docker-users"] = {r"DEV-PC01\alice"}
    report = install(
        windows.platform(), windows_settings(), user="DEV-PC01\\dev", accounts=windows.accounts
    )
    assert not report.group_created
    assert windows.accounts.groups["docker-users"] == {r"DEV-PC01\alice", r"DEV-PC01\dev"}


def test_a_non_administrator_changes_nothing() -> None:
    windows = FakeWindows()
    windows.accounts.elevated = False
    with pytest.raises(PolicyError, match="administrator"):
        install(windows.platform(), windows_settings(), user=None, accounts=windows.accounts)
    assert windows.scm.services == {} and windows.accounts.groups == {}


def test_installing_twice_is_refused_and_leaves_the_first_alone() -> None:
    windows = FakeWindows()
    install(windows.platform(), windows_settings(), user=None, accounts=windows.accounts)
    with pytest.raises(DdpermError, match="already installed"):
        install(
            windows.platform(),
            windows_settings(windows_containers_enabled=False),
            user=None,
            accounts=windows.accounts,
        )
    assert windows.registry.settings == windows_settings()


def test_uninstall_stops_and_removes_and_keeps_group_and_log_unless_asked() -> None:
    windows = FakeWindows()
    install(windows.platform(), windows_settings(), user="dev", accounts=windows.accounts)
    status = uninstall(windows.platform(), accounts=windows.accounts)
    assert not status.installed
    assert windows.scm.services == {}  # a running service marked for deletion went on stop
    assert windows.registry.settings is None
    assert "docker-users" in windows.accounts.groups
    install(windows.platform(), windows_settings(), user="dev", accounts=windows.accounts)
    uninstall(windows.platform(), remove_group="docker-users", accounts=windows.accounts)
    assert windows.accounts.groups == {}


# -- Linux: systemd units --------------------------------------------------------------------


def linux_settings(tmp_path: Path, **changes: object) -> ServiceSettings:
    base = {
        "address": str(tmp_path / "run" / "ddperm.sock"),
        "audit_log": str(tmp_path / "log" / "audit.jsonl"),
        "group": own_group(),
        "backend": "twin",
    }
    return ServiceSettings.model_validate(base | changes)


def test_the_socket_unit_gives_the_socket_to_root_and_the_group_0660(tmp_path: Path) -> None:
    units = unit_files(linux_settings(tmp_path), [sys.executable, "-m", "ddperm"])
    socket_unit = units["ddperm.socket"]
    for line in ("SocketUser=root", f"SocketGroup={own_group()}", "SocketMode=0660"):
        assert line in socket_unit.splitlines()
    assert "--systemd" in units["ddperm.service"]


def test_no_windows_containers_reaches_the_service_command(tmp_path: Path) -> None:
    units = unit_files(linux_settings(tmp_path, windows_containers_enabled=False), [sys.executable])
    assert "--no-windows-containers" in units["ddperm.service"]


needs_systemd = pytest.mark.skipif(
    not shutil.which("systemd-analyze") or not shutil.which("systemd-socket-activate"),
    reason="needs Debian's systemd package (systemd-analyze, systemd-socket-activate)",
)


@needs_systemd
def test_systemd_analyze_verifies_the_installed_units(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    platform = SystemdPlatform(tmp_path / "units", run=calls.append)
    (tmp_path / "units").mkdir()
    install(platform, linux_settings(tmp_path), user=None, start=False)
    files = sorted(str(p) for p in (tmp_path / "units").glob("ddperm.*") if p.suffix != ".json")
    done = subprocess.run(
        ["systemd-analyze", "verify", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert calls == [["daemon-reload"], ["enable", "ddperm.socket"]]
    assert platform.status().settings == linux_settings(tmp_path)


@needs_systemd
def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = tmp_path / "ddperm.service"
    broken.write_text("[Service]\nExecStart=relative/path serve\n")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0


def test_uninstall_removes_the_units(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    units = tmp_path / "units"
    units.mkdir()
    platform = SystemdPlatform(units, run=calls.append)
    install(platform, linux_settings(tmp_path), user=None, start=False)
    assert not uninstall(platform).installed
    assert list(units.iterdir()) == []
    assert ["disable", "--now", "ddperm.socket", "ddperm.service"] in calls


def _activate(settings: ServiceSettings) -> tuple[Path, subprocess.Popen[bytes]]:
    """``ddperm serve --systemd`` under systemd-socket-activate, once it has bound the socket
    (it may be slow on a busy machine)."""
    socket_path = Path(settings.address)
    socket_path.parent.mkdir(mode=0o755)
    command = [
        "systemd-socket-activate", "-l", str(socket_path),
        sys.executable, "-m", "ddperm", "serve", "--systemd", *settings.serve_arguments(),
    ]  # fmt: skip
    activator = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not socket_path.exists():
        if activator.poll() is not None or time.monotonic() > deadline:
            activator.kill()
            _, errors = activator.communicate()
            raise AssertionError(f"systemd-socket-activate did not listen: {errors!r}")
        time.sleep(0.01)
    return socket_path, activator


@needs_systemd
def test_socket_activation_serves_the_first_connection(tmp_path: Path) -> None:
    settings = linux_settings(tmp_path)
    socket_path, activator = _activate(settings)
    try:
        # What SocketUser=root, SocketGroup=, SocketMode=0660 would have done:
        os.chown(socket_path, os.geteuid(), os.getegid())
        os.chmod(socket_path, 0o660)
        try:
            with Client(str(socket_path), timeout=120) as client:
                answer: object = client.request("version")
        except Exception as exc:
            answer = exc
    finally:
        activator.terminate()
        _, errors = activator.communicate(timeout=30)
    assert isinstance(answer, dict) and answer["ddperm"], (answer, errors)
    lines = Path(settings.audit_log).read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines][:2] == ["start", "request"]


@needs_systemd
def test_an_inherited_socket_others_may_use_is_refused(tmp_path: Path) -> None:
    socket_path, activator = _activate(linux_settings(tmp_path))
    try:
        os.chmod(socket_path, 0o666)  # anyone could connect: the service must not serve it
        with pytest.raises(Exception), Client(str(socket_path), timeout=10) as client:
            client.request("version")
        _, errors = activator.communicate(timeout=120)  # the service refuses and exits
    finally:
        activator.kill()
        activator.wait()
    assert b"mode 666, not 660" in errors
