"""The Windows Docker engine: the ``docker`` service that runs Windows containers.

``status()`` reads it (a missing service is a status, not an error); ``start()`` and
``stop()`` are ensure-style: they report whether anything changed, wait for a pending
state to settle within ``timeout`` seconds, and raise ``HostError`` when Windows refuses
(``CouldNotStartService`` for a Disabled service or a caller that is not elevated,
``CouldNotStopService``, ``DdpermServiceTimeout``, ``DdpermEngineNotInstalled`` on a
machine without Docker Desktop). ``start()`` continues a Paused service.
"""

from __future__ import annotations

import enum

from ddperm.components.base import WindowsContainersGated
from ddperm.errors import PolicyError
from ddperm.model import HostModel

ENGINE_SERVICE = "docker"
DEFAULT_TIMEOUT = 60
MAX_TIMEOUT = 600


class ServiceStatus(str, enum.Enum):
    """``System.ServiceProcess.ServiceControllerStatus`` names (never localised)."""

    STOPPED = "Stopped"
    START_PENDING = "StartPending"
    STOP_PENDING = "StopPending"
    RUNNING = "Running"
    CONTINUE_PENDING = "ContinuePending"
    PAUSE_PENDING = "PausePending"
    PAUSED = "Paused"


class ServiceStartType(str, enum.Enum):
    """``System.ServiceProcess.ServiceStartMode`` names."""

    BOOT = "Boot"
    SYSTEM = "System"
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"
    DISABLED = "Disabled"


class EngineStatus(HostModel):
    """The ``docker`` service as Get-Service sees it; every field but ``installed`` is
    None when the service does not exist. ``display_name`` may be localised."""

    installed: bool
    name: str = ENGINE_SERVICE
    display_name: str | None = None
    status: ServiceStatus | None = None
    start_type: ServiceStartType | None = None

    @property
    def running(self) -> bool:
        return self.status is ServiceStatus.RUNNING


class EngineChange(HostModel):
    """What an ensure-style start or stop did."""

    changed: bool
    before: EngineStatus
    after: EngineStatus


def check_timeout(timeout: object) -> int:
    """Whole seconds from 1 to ``MAX_TIMEOUT`` (bool is not a number here)."""
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT:
        raise PolicyError(f"timeout must be whole seconds from 1 to {MAX_TIMEOUT}: {timeout!r}")
    return timeout


class EngineComponent(WindowsContainersGated):
    """``host.engine``: the Windows Docker engine service."""

    def status(self) -> EngineStatus:
        self._require_enabled()
        return self._executor.call("engine_status", EngineStatus)

    def start(self, *, timeout: int = DEFAULT_TIMEOUT) -> EngineChange:
        """Ensure the engine is Running; ``changed`` is False when it already was."""
        self._require_enabled()
        params = {"TimeoutSeconds": check_timeout(timeout)}
        return self._executor.call("engine_start", EngineChange, params)

    def stop(self, *, timeout: int = DEFAULT_TIMEOUT) -> EngineChange:
        """Ensure the engine is Stopped (a missing service counts as stopped)."""
        self._require_enabled()
        params = {"TimeoutSeconds": check_timeout(timeout)}
        return self._executor.call("engine_stop", EngineChange, params)
