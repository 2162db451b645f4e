"""Twin of hyperv_status.ps1, bootloader_status.ps1, features_check.ps1 and lib/Checks.ps1.

The plain functions here are the twin of the library functions in lib/Checks.ps1; the
health twin calls the same ones. Failures are the error records Windows writes: DISM's
COMException (requires elevation, or "Class not registered" under pwsh 7) and the BCD
check's own DdpermElevationRequired. DISM's messages follow ``host.os.ui_culture``; ids
never do.
"""

from __future__ import annotations

from typing import Any

from ddperm.components.checks import (
    FEATURE_NAME,
    HRESULT_CLASS_NOT_REGISTERED,
    HRESULT_ELEVATION_REQUIRED,
    HYPERV_FEATURE,
    MAX_FEATURES,
)
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeHost

_PATTERN_TEXT = f"^{FEATURE_NAME.pattern}\\z"  # the scripts' ValidatePattern
_LAUNCH_TYPE_VALUES = {"Off": 0, "Auto": 1}
_PENDING = ("EnablePending", "DisablePending")

HRESULT_DOTNET_DEFAULT = -2146233088  # 0x80131500, what a .NET exception reports by default
DISM_GET_FQID = "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand"
ELEVATION_REQUIRED = "DdpermElevationRequired"
BCD_ELEVATION_MESSAGE = (
    "Reading the boot configuration (BCD) needs an elevated session: run ddperm as an "
    "administrator."
)

_MESSAGES: dict[str, dict[str, str]] = {
    "elevation": {
        "en-US": "The requested operation requires elevation.",
        "de-DE": "Der angeforderte Vorgang erfordert erhöhte Rechte.",
        "ja-JP": "要求された操作には管理者特権が必要です。",
        "zh-CN": "请求的操作需要提升。",
    },
    "class": {
        "en-US": "Class not registered",
        "de-DE": "Klasse nicht registriert",
        "ja-JP": "クラスが登録されていません",
        "zh-CN": "没有注册类",
    },
}


class HResultErrorRecord(ErrorRecord):
    """An ErrorRecord whose exception carries an HRESULT (what ``$_.Exception.HResult`` gives)."""

    def __init__(self, *args: Any, hresult: int) -> None:
        super().__init__(*args)
        self.hresult = hresult


def _text(host: FakeHost, key: str) -> str:
    messages = _MESSAGES[key]
    return messages.get(host.os.ui_culture, messages["en-US"])


def _dism_error(host: FakeHost) -> ErrorRecord | None:
    """The error ``Get-WindowsOptionalFeature -Online`` throws on this host, if any."""
    if not host.dism_com_registered:
        key, hresult = "class", HRESULT_CLASS_NOT_REGISTERED
    elif not host.caller.elevated:
        key, hresult = "elevation", HRESULT_ELEVATION_REQUIRED
    else:
        return None
    return HResultErrorRecord(
        _text(host, key),
        DISM_GET_FQID,
        "NotSpecified",
        "",
        "System.Runtime.InteropServices.COMException",
        hresult=hresult,
    )


def validate_feature_names(script: str, names: object) -> list[str]:
    """The scripts' [ValidateCount(1, 32)] and [ValidatePattern(...)] on ``[string[]]``."""
    values = [names] if isinstance(names, str) else list(names)  # type: ignore[call-overload]
    if not 1 <= len(values) <= MAX_FEATURES:
        raise ErrorRecord(
            "Cannot validate argument on parameter 'FeatureName'. The parameter requires at "
            f"least 1 value(s) and no more than {MAX_FEATURES} value(s) - {len(values)} "
            "value(s) were provided.",
            f"ParameterArgumentValidationError,{script}",
            "InvalidData",
            "FeatureName",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    for value in values:
        if not FEATURE_NAME.fullmatch(str(value)):
            raise ErrorRecord(
                f"Cannot validate argument on parameter 'FeatureName'. The argument \"{value}\" "
                f'does not match the "{_PATTERN_TEXT}" pattern. Supply an argument that matches '
                f'"{_PATTERN_TEXT}" and try the command again.',
                f"ParameterArgumentValidationError,{script}",
                "InvalidData",
                "FeatureName",
                "System.Management.Automation.ParameterBindingValidationException",
            )
    return [str(v) for v in values]


def feature_states(host: FakeHost, names: list[str]) -> list[dict[str, str]]:
    """Twin of Get-DdpermFeatureStates: exact, case-insensitive; unknown names are Absent."""
    error = _dism_error(host)
    if error is not None:
        raise error
    known = {name.lower(): state for name, state in host.features.items()}
    return [{"name": name, "state": known.get(name.lower(), "Absent")} for name in names]


def hyperv_status(host: FakeHost) -> dict[str, object]:
    """Twin of Get-DdpermHyperVStatus."""
    state: str | None = None
    error: dict[str, object] | None = None
    try:
        state = feature_states(host, [HYPERV_FEATURE])[0]["state"]
    except ErrorRecord as record:
        error = check_error(record)
    vmms = host.services.get("vmms")
    return {
        "feature_state": state,
        "feature_error": error,
        "hypervisor_present": host.hypervisor_present,
        "vmms_status": vmms.status if vmms is not None else None,
    }


def bootloader_status(host: FakeHost) -> dict[str, object]:
    """Twin of Get-DdpermBootloaderStatus. Elevation is checked first: the BCD WMI provider
    tells a caller that is not elevated only ``ReturnValue = False`` from OpenStore."""
    if not host.caller.elevated:
        raise ErrorRecord(
            BCD_ELEVATION_MESSAGE,
            ELEVATION_REQUIRED,
            "PermissionDenied",
            "",
            "System.InvalidOperationException",
        )
    launch = host.hypervisorlaunchtype
    if launch is None:
        return {"launch_type": "NotSet", "raw_value": None}
    return {"launch_type": launch, "raw_value": _LAUNCH_TYPE_VALUES[launch]}


def features_report(host: FakeHost, names: list[str]) -> dict[str, object]:
    """Twin of Get-DdpermFeaturesReport."""
    states = feature_states(host, names)
    pending = host.restart_pending or any(s["state"] in _PENDING for s in states)
    return {"features": states, "restart_pending": pending}


def check_error(record: ErrorRecord) -> dict[str, object]:
    """Twin of ConvertTo-DdpermCheckError."""
    return {
        "error_id": record.fqid,
        "category": record.category,
        "exception_type": record.exception_type,
        "hresult": getattr(record, "hresult", HRESULT_DOTNET_DEFAULT),
        "message": record.message,
    }


@handles("hyperv_status")
def hyperv_status_job(host: FakeHost) -> dict[str, object]:
    return hyperv_status(host)


@handles("bootloader_status")
def bootloader_status_job(host: FakeHost) -> dict[str, object]:
    return bootloader_status(host)


@handles("features_check")
def features_check_job(host: FakeHost, FeatureName: list[str]) -> dict[str, object]:
    return features_report(host, validate_feature_names("features_check", FeatureName))
