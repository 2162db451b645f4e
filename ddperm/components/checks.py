"""The Hyper-V, bootloader and Windows-features checks, and the models they return.

Who may run them: ``hyperv.status()`` works without elevation (HypervisorPresent and the
VMMS service need none); only its feature state needs DISM, which requires elevation, so a
caller that is not elevated gets ``feature_state=None`` and the DISM error in
``feature_error`` (minikube #7789). ``bootloader.status()`` and ``features.check()`` have no
source a non-admin may read (the BCD WMI provider and DISM both refuse), so they raise
``HostError`` carrying the host's error id.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from pydantic import Field

from ddperm.components.base import Component
from ddperm.components.engine import ServiceStatus
from ddperm.errors import PolicyError
from ddperm.model import HostModel

# Docker Desktop's Hyper-V backend: "Turn on Hyper-V and Containers Windows features"
# (docs, windows-install.md). Microsoft-Hyper-V is the platform (on client and server SKUs);
# Microsoft-Hyper-V-Hypervisor is the part that boots the hypervisor (what Vagrant checks).
DEFAULT_REQUIRED_FEATURES = ("Microsoft-Hyper-V", "Microsoft-Hyper-V-Hypervisor", "Containers")
HYPERV_FEATURE = "Microsoft-Hyper-V"
MAX_FEATURES = 32
HRESULT_ELEVATION_REQUIRED = -2147024156  # 0x800702E4: "...requires elevation." (DISM)
HRESULT_CLASS_NOT_REGISTERED = -2147221164  # 0x80040154: DISM under pwsh 7 (PowerShell #13866)
# The same pattern is the scripts' ValidatePattern: letters, digits, '-', '_', '.'; no
# wildcard ('*', '?', '[', ']'), no space, no quote.
FEATURE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,99}")  # used with fullmatch


class FeatureState(str, enum.Enum):
    """Microsoft.Dism.Commands.FeatureState names, plus ``Absent`` (not on this edition)."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    ENABLE_PENDING = "EnablePending"
    DISABLE_PENDING = "DisablePending"
    DISABLED_WITH_PAYLOAD_REMOVED = "DisabledWithPayloadRemoved"
    PARTIALLY_INSTALLED = "PartiallyInstalled"
    SUPERSEDED = "Superseded"
    ABSENT = "Absent"


class LaunchType(str, enum.Enum):
    """BCD hypervisorlaunchtype of {current}: 1 = Auto, 0 = Off, no element = NotSet."""

    AUTO = "Auto"
    OFF = "Off"
    NOT_SET = "NotSet"
    OTHER = "Other"


class CheckError(HostModel):
    """A check the host could not run. Decide on ``error_id``/``hresult``, never ``message``."""

    error_id: str = Field(description="The error record's FullyQualifiedErrorId.")
    category: str = Field(description="The ErrorCategory name, e.g. PermissionDenied.")
    exception_type: str = Field(description="Full .NET type name of the exception.")
    hresult: int | None = Field(description="The exception's HResult as a signed 32-bit int.")
    message: str = Field(description="The exception's message (may be localised; display only).")


class HyperVStatus(HostModel):
    """The Hyper-V feature, the hypervisor and the VMMS service."""

    feature_state: FeatureState | None = Field(
        description="DISM state of Microsoft-Hyper-V; None when DISM failed (see feature_error)."
    )
    feature_error: CheckError | None = Field(
        description="Why DISM could not be asked (e.g. not elevated); None when it answered."
    )
    hypervisor_present: bool = Field(
        description="Win32_ComputerSystem.HypervisorPresent: the hypervisor is running."
    )
    vmms_status: ServiceStatus | None = Field(
        description="Status of the vmms service; None when it is not installed."
    )

    @property
    def enabled(self) -> bool:
        """Hyper-V is usable now: hypervisor running and VMMS running."""
        return self.hypervisor_present and self.vmms_status is ServiceStatus.RUNNING


class BootloaderStatus(HostModel):
    """hypervisorlaunchtype of the running OS's boot entry ({current})."""

    launch_type: LaunchType = Field(description="Auto, Off, NotSet, or Other for any other value.")
    raw_value: int | None = Field(
        description="The BCD integer (1 Auto, 0 Off); None when the element is not set."
    )


class FeatureStatus(HostModel):
    """One Windows optional feature."""

    name: str = Field(description="The feature name as asked for.")
    state: FeatureState = Field(description="DISM's state, or Absent on this edition.")


class FeaturesReport(HostModel):
    """The requested Windows features and whether a restart is pending."""

    features: tuple[FeatureStatus, ...] = Field(description="One entry per requested feature.")
    restart_pending: bool = Field(
        description="Windows waits for a restart to finish a feature change."
    )

    @property
    def all_enabled(self) -> bool:
        """True when every requested feature is Enabled."""
        return all(f.state is FeatureState.ENABLED for f in self.features)


def validate_feature_names(names: Iterable[str] | str) -> list[str]:
    """Exact feature names (allowlist pattern, duplicates dropped) or ``PolicyError``."""
    if isinstance(names, str):
        raise PolicyError("required must be a list of feature names, not one string")
    wanted: list[str] = []
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
            raise PolicyError(
                f"not a Windows feature name (letters, digits, '-', '_', '.'; no wildcards): "
                f"{name!r}"
            )
        if name.lower() not in seen:
            seen.add(name.lower())
            wanted.append(name)
    if not 1 <= len(wanted) <= MAX_FEATURES:
        raise PolicyError(f"give 1 to {MAX_FEATURES} feature names, not {len(wanted)}")
    return wanted


class HyperVComponent(Component):
    """``host.hyperv``: whether Hyper-V is there and running."""

    def status(self) -> HyperVStatus:
        """Feature state, HypervisorPresent and the VMMS service (works without elevation).

        Returns:
            The status; without elevation ``feature_state`` is None and ``feature_error``
            holds DISM's error.

        Raises:
            HostError: the host could not read HypervisorPresent or the vmms service.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``HyperVStatus``.
        """
        return self._executor.call("hyperv_status", HyperVStatus)


class BootloaderComponent(Component):
    """``host.bootloader``: whether Windows starts the hypervisor at boot."""

    def status(self) -> BootloaderStatus:
        """hypervisorlaunchtype of the running OS's boot entry (needs elevation).

        Returns:
            The launch type and the raw BCD value.

        Raises:
            HostError: the caller is not elevated (the BCD WMI provider's access-denied
                error), ``DdpermBcdStoreUnavailable``, ``DdpermBcdObjectUnavailable`` or
                ``DdpermBcdElementUnreadable``.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``BootloaderStatus``.
        """
        return self._executor.call("bootloader_status", BootloaderStatus)


class FeaturesComponent(Component):
    """``host.features``: Windows optional features Docker Desktop needs."""

    def check(self, required: Iterable[str] = DEFAULT_REQUIRED_FEATURES) -> FeaturesReport:
        """Each feature's state and whether a restart is pending (needs elevation).

        Names are validated before anything runs; a name this Windows does not know is
        reported as ``Absent``.

        Args:
            required: exact feature names (1 to 32; letters, digits, '-', '_', '.').

        Returns:
            One state per name (duplicates dropped) and ``restart_pending``.

        Raises:
            PolicyError: a name is not a feature name (e.g. a wildcard), there are not 1
                to 32, or the script fails its SHA-256 pin; nothing ran.
            HostError: DISM refused (HRESULT 0x800702E4 when not elevated; class not
                registered under PowerShell 7).
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``FeaturesReport``.
        """
        names = validate_feature_names(required)
        return self._executor.call("features_check", FeaturesReport, {"FeatureName": names})
