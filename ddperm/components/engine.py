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

from pydantic import Field

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

    installed: bool = Field(description="Whether the docker service exists.")
    name: str = Field(default=ENGINE_SERVICE, description="The service name: docker.")
    display_name: str | None = Field(
        default=None, description="The service's display name (may be localised)."
    )
    status: ServiceStatus | None = Field(
        default=None, description="ServiceControllerStatus name, e.g. Running or Stopped."
    )
    start_type: ServiceStartType | None = Field(
        default=None, description="ServiceStartMode name, e.g. Automatic, Manual or Disabled."
    )

    @property
    def running(self) -> bool:
        """True when the service is Running."""
        return self.status is ServiceStatus.RUNNING


class EngineChange(HostModel):
    """What an ensure-style start or stop did."""

    changed: bool = Field(description="False when the status before equals the one after.")
    before: EngineStatus = Field(description="The service before the call.")
    after: EngineStatus = Field(description="The service after the call.")


def check_timeout(timeout: object) -> int:
    """Whole seconds from 1 to ``MAX_TIMEOUT`` (bool is not a number here)."""
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT:
        raise PolicyError(f"timeout must be whole seconds from 1 to {MAX_TIMEOUT}: {timeout!r}")
    return timeout


class EngineComponent(WindowsContainersGated):
    """``host.engine``: the Windows Docker engine service."""

    def status(self) -> EngineStatus:
        """The docker service's status (a missing service is a status, not an error).

        Returns:
            The service as Get-Service sees it; ``installed`` False when it does not exist.

        Raises:
            PolicyError: Windows containers are disabled on this host, or the script fails
                its SHA-256 pin; nothing ran.
            HostError: the host could not read the service.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``EngineStatus``.
        """
        self._require_enabled()
        return self._executor.call("engine_status", EngineStatus)

    def start(self, *, timeout: int = DEFAULT_TIMEOUT) -> EngineChange:
        """Ensure the engine is Running.

        Args:
            timeout: whole seconds, 1 to 600, for every wait of this call together.

        Returns:
            The service before and after; ``changed`` False when it already was Running.

        Raises:
            PolicyError: Windows containers are disabled, ``timeout`` is not 1 to 600 whole
                seconds, or the script fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermEngineNotInstalled``, ``CouldNotStartService`` (Disabled, or
                the caller is not elevated), ``DdpermServiceTimeout``.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``EngineChange``.
        """
        self._require_enabled()
        params = {"TimeoutSeconds": check_timeout(timeout)}
        return self._executor.call("engine_start", EngineChange, params)

    def stop(self, *, timeout: int = DEFAULT_TIMEOUT) -> EngineChange:
        """Ensure the engine is Stopped (a missing service counts as stopped).

        Args:
            timeout: whole seconds, 1 to 600, for every wait of this call together.

        Returns:
            The service before and after; ``changed`` False when it already was Stopped.

        Raises:
            PolicyError: Windows containers are disabled, ``timeout`` is not 1 to 600 whole
                seconds, or the script fails its SHA-256 pin; nothing ran.
            HostError: ``CouldNotStopService`` (e.g. the caller is not elevated),
                ``DdpermServiceTimeout``.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``EngineChange``.
        """
        self._require_enabled()
        params = {"TimeoutSeconds": check_timeout(timeout)}
        return self._executor.call("engine_stop", EngineChange, params)
