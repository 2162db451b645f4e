"""Twin of the engine scripts (engine_*.ps1) and of lib/Engine.ps1.

Service transitions take ``FakeService.start_seconds``/``stop_seconds`` of simulated
time, spent against the script's deadline; nothing sleeps.
"""

from __future__ import annotations

import re
from typing import Any

from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeHost, FakeService

SERVICE = "docker"
NOT_INSTALLED = (
    "The Windows Docker engine service 'docker' is not installed; Docker Desktop registers it "
    "to run Windows containers (install Docker Desktop first)."
)
_SERVICE_ERROR = "Microsoft.PowerShell.Commands.ServiceCommandException"
_DISABLED = (
    "The service cannot be started, either because it is disabled or because it has no "
    "enabled devices associated with it."
)


def engine_service(host: FakeHost) -> FakeService | None:
    """Twin of ``Get-DdpermEngineService``: the exact ``docker`` service, or None."""
    return host.services.get(SERVICE)


def engine_status(host: FakeHost) -> dict[str, Any]:
    """Twin of ``Get-DdpermEngineStatus`` (lib/Engine.ps1), for engine_status and health."""
    service = engine_service(host)
    if service is None:
        return {
            "installed": False,
            "name": SERVICE,
            "display_name": None,
            "status": None,
            "start_type": None,
        }
    return {
        "installed": True,
        "name": service.name,
        "display_name": service.display_name,
        "status": service.status,
        "start_type": service.start_type,
    }


def _check_timeout(script: str, value: object) -> float:
    """``[ValidateRange(1, 600)][int]$TimeoutSeconds`` as PowerShell binds it."""
    number = value if type(value) is int else None
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,9}\s*", value):
        number = int(value)
    if number is None:
        raise ErrorRecord(
            "Cannot process argument transformation on parameter 'TimeoutSeconds'. Cannot "
            f'convert value "{value}" to type "System.Int32".',
            f"ParameterArgumentTransformationError,{script}",
            "InvalidData",
            "TimeoutSeconds",
            "System.Management.Automation.ParameterBindingArgumentTransformationException",
        )
    if not 1 <= number <= 600:
        raise ErrorRecord(
            f"Cannot validate argument on parameter 'TimeoutSeconds'. The {number} argument is "
            "less than the minimum allowed range of 1 or greater than the maximum allowed "
            "range of 600. Supply an argument that is within the range and then try the "
            "command again.",
            f"ParameterArgumentValidationError,{script}",
            "InvalidData",
            "TimeoutSeconds",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    return float(number)


class _Clock:
    """Simulated time left before the script's deadline."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def wait(self, service: FakeService, status: str, takes: float) -> None:
        """Twin of ``Wait-DdpermEngineStatus``: settle in ``takes`` seconds or time out."""
        if takes > self.left:
            self.left = 0
            message = (
                f"The service 'docker' did not reach {status} before the deadline; "
                f"it is {service.status}."
            )
            raise ErrorRecord(
                message,
                "DdpermServiceTimeout",
                "OperationTimeout",
                SERVICE,
                "System.TimeoutException",
            )
        self.left -= takes
        service.status = status


def _cannot(service: FakeService, verb: str, reason: str, fqid: str, category: str) -> ErrorRecord:
    return ErrorRecord(
        f"Service '{service.display_name} ({service.name})' cannot be {verb} due to the "
        f"following error: {reason}",
        fqid,
        category,
        SERVICE,
        _SERVICE_ERROR,
    )


def _change(host: FakeHost, before: dict[str, Any]) -> dict[str, Any]:
    after = engine_status(host)
    return {"changed": before["status"] != after["status"], "before": before, "after": after}


@handles("engine_status")
def engine_status_job(host: FakeHost) -> dict[str, Any]:
    return engine_status(host)


@handles("engine_start")
def engine_start(host: FakeHost, TimeoutSeconds: int = 60) -> dict[str, Any]:
    clock = _Clock(_check_timeout("engine_start", TimeoutSeconds))
    service = engine_service(host)
    if service is None:
        raise ErrorRecord(
            NOT_INSTALLED,
            "DdpermEngineNotInstalled",
            "ObjectNotFound",
            SERVICE,
            "System.InvalidOperationException",
        )
    before = engine_status(host)
    if service.status == "StopPending":
        clock.wait(service, "Stopped", service.stop_seconds)
    if service.status in ("Stopped", "Paused"):
        # A paused service is continued (StartService on it fails with error 1056, "An
        # instance of the service is already running"); Continue ignores the start type.
        paused = service.status == "Paused"
        if not host.caller.elevated:
            reason = f"Cannot open {SERVICE} service on computer '.'. Access is denied"
        elif service.start_type == "Disabled" and not paused:
            reason = f"Cannot start service {SERVICE} on computer '.'. {_DISABLED}"
        else:
            reason = ""
        if reason:
            raise _cannot(service, "started", reason, "CouldNotStartService", "OpenError")
        service.status = "ContinuePending" if paused else "StartPending"
    if service.status != "Running":
        clock.wait(service, "Running", service.start_seconds)
    return _change(host, before)


@handles("engine_stop")
def engine_stop(host: FakeHost, TimeoutSeconds: int = 60) -> dict[str, Any]:
    clock = _Clock(_check_timeout("engine_stop", TimeoutSeconds))
    service = engine_service(host)
    before = engine_status(host)
    if service is None:
        return _change(host, before)
    if service.status == "StartPending":
        clock.wait(service, "Running", service.start_seconds)
    if service.status not in ("Stopped", "StopPending"):
        if not host.caller.elevated:
            raise _cannot(
                service,
                "stopped",
                f"Cannot open {SERVICE} service on computer '.'.",
                "CouldNotStopService,Microsoft.PowerShell.Commands.StopServiceCommand",
                "CloseError",
            )
        service.status = "StopPending"
    if service.status != "Stopped":
        clock.wait(service, "Stopped", service.stop_seconds)
    return _change(host, before)
