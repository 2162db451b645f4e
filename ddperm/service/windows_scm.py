"""Windows: every Service Control Manager, registry and Event Log call ddperm makes.

The installer (``installer.py``) talks to the three small interfaces below; this module
implements them with pywin32 and has not run on Windows yet. Tests drive the installer
against ``ddperm.testing.scm.FakeWindows`` instead.

- The service runs as LocalSystem, starts automatically, and restarts on failure
  (5 s, 5 s, then 30 s; the failure count resets after a day): ``ChangeServiceConfig2``
  with ``SERVICE_CONFIG_FAILURE_ACTIONS``.
- Settings live under ``HKLM\\SOFTWARE\\ddperm\\Service``, whose default ACL lets
  Users read but only Administrators and SYSTEM write.
- Events go to the Application log under the source ``ddperm``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ddperm.service.settings import ServiceSettings

ServiceState = Literal["stopped", "start_pending", "stop_pending", "running", "paused", "other"]
SERVICE_NAME = "ddperm"
SETTINGS_KEY = r"SOFTWARE\ddperm\Service"
EVENT_SOURCE = "ddperm"


@dataclass(frozen=True)
class ServiceSpec:
    """What the Service Control Manager is told about the service."""

    name: str
    display_name: str
    description: str
    command: list[str]
    account: str = "LocalSystem"
    start: Literal["auto", "demand"] = "auto"
    restart_delays_ms: tuple[int, ...] = (5_000, 5_000, 30_000)
    reset_failures_after_s: int = 86_400
    extra: dict[str, str] = field(default_factory=dict)


class ServiceManager(Protocol):
    def state(self, name: str) -> ServiceState | None:
        """The service's state, or None when it is not installed."""
        ...

    def create(self, spec: ServiceSpec) -> None: ...

    def start(self, name: str) -> None: ...

    def stop(self, name: str, timeout: float) -> None: ...

    def delete(self, name: str) -> None: ...


class SettingsStore(Protocol):
    def read(self) -> ServiceSettings | None: ...

    def write(self, settings: ServiceSettings) -> None: ...

    def delete(self) -> None: ...


class EventLog(Protocol):
    def register(self) -> None: ...

    def unregister(self) -> None: ...

    def report(self, kind: Literal["info", "error"], message: str) -> None: ...


if sys.platform == "win32":  # pragma: no cover - needs Windows
    import contextlib
    import subprocess
    import time
    import winreg

    import pywintypes
    import win32evtlog
    import win32evtlogutil
    import win32service
    import winerror

    _STATES: dict[int, ServiceState] = {
        win32service.SERVICE_STOPPED: "stopped",
        win32service.SERVICE_START_PENDING: "start_pending",
        win32service.SERVICE_STOP_PENDING: "stop_pending",
        win32service.SERVICE_RUNNING: "running",
        win32service.SERVICE_PAUSED: "paused",
    }

    class WindowsServiceManager:
        """The Service Control Manager through pywin32."""

        def _open(self, name: str, access: int) -> object | None:
            scm = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
            try:
                return win32service.OpenService(scm, name, access)
            except pywintypes.error as exc:
                if exc.winerror == winerror.ERROR_SERVICE_DOES_NOT_EXIST:
                    return None
                raise
            finally:
                win32service.CloseServiceHandle(scm)

        def state(self, name: str) -> ServiceState | None:
            handle = self._open(name, win32service.SERVICE_QUERY_STATUS)
            if handle is None:
                return None
            try:
                current = win32service.QueryServiceStatus(handle)[1]
            finally:
                win32service.CloseServiceHandle(handle)
            return _STATES.get(current, "other")

        def create(self, spec: ServiceSpec) -> None:
            scm = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
            try:
                handle = win32service.CreateService(
                    scm,
                    spec.name,
                    spec.display_name,
                    win32service.SERVICE_ALL_ACCESS,
                    win32service.SERVICE_WIN32_OWN_PROCESS,
                    win32service.SERVICE_AUTO_START
                    if spec.start == "auto"
                    else win32service.SERVICE_DEMAND_START,
                    win32service.SERVICE_ERROR_NORMAL,
                    subprocess.list2cmdline(spec.command),
                    None,
                    False,
                    None,
                    None,  # LocalSystem
                    None,
                )
                try:
                    win32service.ChangeServiceConfig2(
                        handle, win32service.SERVICE_CONFIG_DESCRIPTION, spec.description
                    )
                    actions = [
                        (win32service.SC_ACTION_RESTART, delay) for delay in spec.restart_delays_ms
                    ]
                    win32service.ChangeServiceConfig2(
                        handle,
                        win32service.SERVICE_CONFIG_FAILURE_ACTIONS,
                        {
                            "ResetPeriod": spec.reset_failures_after_s,
                            "RebootMsg": None,
                            "Command": None,
                            "Actions": actions,
                        },
                    )
                finally:
                    win32service.CloseServiceHandle(handle)
            finally:
                win32service.CloseServiceHandle(scm)

        def start(self, name: str) -> None:
            handle = self._open(name, win32service.SERVICE_START)
            if handle is None:
                raise FileNotFoundError(f"the service {name} is not installed")
            try:
                win32service.StartService(handle, None)
            finally:
                win32service.CloseServiceHandle(handle)

        def stop(self, name: str, timeout: float) -> None:
            access = win32service.SERVICE_STOP | win32service.SERVICE_QUERY_STATUS
            handle = self._open(name, access)
            if handle is None:
                return
            try:
                if self.state(name) != "stopped":
                    win32service.ControlService(handle, win32service.SERVICE_CONTROL_STOP)
                deadline = time.monotonic() + timeout
                while self.state(name) != "stopped":
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the service {name} did not stop in {timeout} s")
                    time.sleep(0.5)
            finally:
                win32service.CloseServiceHandle(handle)

        def delete(self, name: str) -> None:
            handle = self._open(name, win32service.DELETE)
            if handle is None:
                return
            try:
                win32service.DeleteService(handle)
            finally:
                win32service.CloseServiceHandle(handle)

    class RegistrySettings:
        """``HKLM\\SOFTWARE\\ddperm\\Service``: one JSON value, administrators-only by default."""

        def read(self) -> ServiceSettings | None:
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, SETTINGS_KEY) as key:
                    value, _kind = winreg.QueryValueEx(key, "Settings")
            except FileNotFoundError:
                return None
            return ServiceSettings.model_validate_json(value)

        def write(self, settings: ServiceSettings) -> None:
            with winreg.CreateKeyEx(
                winreg.HKEY_LOCAL_MACHINE, SETTINGS_KEY, 0, winreg.KEY_WRITE
            ) as key:
                winreg.SetValueEx(key, "Settings", 0, winreg.REG_SZ, settings.model_dump_json())

        def delete(self) -> None:
            for key in (SETTINGS_KEY, SETTINGS_KEY.rsplit("\\", 1)[0]):
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteKey(winreg.HKEY_LOCAL_MACHINE, key)

    class WindowsEventLog:
        """The Application event log, source ``ddperm``."""

        def register(self) -> None:
            win32evtlogutil.AddSourceToRegistry(EVENT_SOURCE, eventLogType="Application")

        def unregister(self) -> None:
            win32evtlogutil.RemoveSourceFromRegistry(EVENT_SOURCE, eventLogType="Application")

        def report(self, kind: Literal["info", "error"], message: str) -> None:
            event_type = (
                win32evtlog.EVENTLOG_ERROR_TYPE
                if kind == "error"
                else win32evtlog.EVENTLOG_INFORMATION_TYPE
            )
            win32evtlogutil.ReportEvent(
                EVENT_SOURCE, 1, eventType=event_type, strings=[message], eventCategory=0
            )

    def run_as_service() -> None:
        """Host the service under the Service Control Manager (``ddperm service run``)."""
        import threading

        import servicemanager
        import win32serviceutil

        from ddperm.service.backends import make_host
        from ddperm.service.listen import running

        class DdpermService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
            _svc_name_ = SERVICE_NAME
            _svc_display_name_ = "ddperm privileged helper"

            def __init__(self, args: object) -> None:
                super().__init__(args)
                self.stopping = threading.Event()

            def SvcStop(self) -> None:
                self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
                self.stopping.set()

            def SvcDoRun(self) -> None:
                events = WindowsEventLog()
                settings = RegistrySettings().read()
                if settings is None:
                    events.report("error", "no settings under HKLM\\" + SETTINGS_KEY)
                    return
                enabled = settings.windows_containers_enabled
                try:
                    with running(
                        lambda: make_host(settings.backend, windows_containers_enabled=enabled),
                        address=settings.address,
                        audit_log=settings.audit_log,
                        group=settings.group,
                        windows_containers_enabled=enabled,
                    ):
                        events.report("info", f"serving {settings.address} for {settings.group}")
                        self.stopping.wait()
                except Exception as exc:
                    events.report("error", f"the service stopped: {type(exc).__name__}: {exc}")
                    raise
                events.report("info", "stopped")

        servicemanager.Initialize()
        servicemanager.PrepareToHostSingle(DdpermService)
        servicemanager.StartServiceCtrlDispatcher()
