"""host.health(): every check in one script run, each with its problems and a fix for each.

``health.ps1`` runs the same library functions as the single-check scripts, each in its
own try/catch, so one failing check (DISM not elevated, hosts file locked) reports its own
error and the others still run. The rules that turn results into problems live here, in
Python, and read only typed values (enum names, error ids, HRESULTs), never display text.

Check status: ``ok``; ``problem`` (it ran and found something to fix); ``error`` (the host
could not run it; ``error`` holds the error id); ``disabled`` (switched off by policy: the
Windows engine under ``--no-windows-containers``). The report is healthy when every check
is ``ok`` or ``disabled``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ddperm.components.checks import (
    DEFAULT_REQUIRED_FEATURES,
    HRESULT_CLASS_NOT_REGISTERED,
    HRESULT_ELEVATION_REQUIRED,
    HYPERV_FEATURE,
    BootloaderStatus,
    CheckError,
    FeaturesReport,
    FeatureState,
    HyperVStatus,
    LaunchType,
)
from ddperm.components.engine import EngineStatus, ServiceStartType, ServiceStatus
from ddperm.components.hosts_file import HostsFileStatus
from ddperm.components.policy import PolicyStatus
from ddperm.components.vm import VMInfoResult
from ddperm.errors import OutputError
from ddperm.executor import Executor
from ddperm.guard import VM_NAME
from ddperm.model import HostModel
from ddperm.runner import Params

T = TypeVar("T", bound=BaseModel)
CheckStatus = Literal["ok", "problem", "error", "disabled"]

WBEM_ACCESS_DENIED = "HRESULT 0x80041003,"  # CIM/WMI access denied (error id prefix)
HYPERV_GET_VM_DENIED = "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVM"

DOC_INSTALL = "https://docs.docker.com/desktop/setup/install/windows-install/"
DOC_HYPERV = (
    "https://learn.microsoft.com/virtualization/hyper-v-on-windows/quick-start/enable-hyper-v"
)
_RESTART = "Restart Windows to finish the pending feature change."


class Problem(HostModel):
    """One thing to fix: a stable ``code``, what is wrong, and how to fix it."""

    code: str = Field(description="Stable identifier, e.g. HYPERVISOR_LAUNCH_OFF.")
    message: str = Field(description="What is wrong, for people.")
    fix: str = Field(description="What to do about it, for people.")
    doc: str | None = Field(default=None, description="A documentation URL, if there is one.")


class HealthCheck(HostModel, Generic[T]):
    """One check of the health report: its status, its problems, and what it read."""

    status: CheckStatus = Field(
        description="ok; problem (it ran and found something to fix); error (the host could "
        "not run it); disabled (switched off by policy)."
    )
    problems: tuple[Problem, ...] = Field(
        default=(), description="What to fix; for an error, one problem explaining it."
    )
    error: CheckError | None = Field(
        default=None, description="Why the host could not run the check; None when it ran."
    )
    result: T | None = Field(
        default=None, description="What the check read; None for an error or disabled check."
    )


class HealthReport(HostModel):
    """Every check of one host, each with its problems and a fix for each."""

    healthy: bool = Field(description="True when every check is ok or disabled.")
    hyperv: HealthCheck[HyperVStatus] = Field(description="Hyper-V feature, hypervisor, VMMS.")
    bootloader: HealthCheck[BootloaderStatus] = Field(
        description="hypervisorlaunchtype of the boot entry."
    )
    features: HealthCheck[FeaturesReport] = Field(
        description="Microsoft-Hyper-V, Microsoft-Hyper-V-Hypervisor and Containers."
    )
    vm: HealthCheck[VMInfoResult] = Field(
        description="DockerDesktopVM (missing is fine; a Critical state is not)."
    )
    engine: HealthCheck[EngineStatus] = Field(
        description="The Windows Docker engine service (disabled under --no-windows-containers)."
    )
    hosts_file: HealthCheck[HostsFileStatus] = Field(
        description="ddperm's kubernetes.docker.internal entry."
    )
    policy: HealthCheck[PolicyStatus] = Field(
        description="The Registry Access Management policy cache (missing is fine)."
    )

    @property
    def checks(self) -> dict[str, HealthCheck[Any]]:
        """Every check by name, in report order."""
        return {name: getattr(self, name) for name in _CHECK_NAMES}

    @property
    def problems(self) -> list[Problem]:
        """Every problem of every check, in report order."""
        return [p for check in self.checks.values() for p in check.problems]


class _Outcome(HostModel, Generic[T]):
    """What health.ps1 writes per check: a result, or the error that replaced it."""

    result: T | None
    error: CheckError | None


class _RawHealth(HostModel):
    hyperv: _Outcome[HyperVStatus]
    bootloader: _Outcome[BootloaderStatus]
    features: _Outcome[FeaturesReport]
    vm: _Outcome[VMInfoResult]
    engine: _Outcome[EngineStatus] | None  # None: not asked (Windows containers disabled)
    hosts_file: _Outcome[HostsFileStatus]
    policy: _Outcome[PolicyStatus]


_CHECK_NAMES = ("hyperv", "bootloader", "features", "vm", "engine", "hosts_file", "policy")


def run_health(executor: Executor, *, windows_containers_enabled: bool) -> HealthReport:
    """Run health.ps1 once and judge every check."""
    params: Params = {
        "VMName": VM_NAME,
        "FeatureName": list(DEFAULT_REQUIRED_FEATURES),
        "WindowsContainers": windows_containers_enabled,
    }
    raw = executor.call("health", _RawHealth, params)
    checks: dict[str, HealthCheck[Any]] = {
        "hyperv": _judge("hyperv", raw.hyperv, hyperv_problems),
        "bootloader": _judge("bootloader", raw.bootloader, bootloader_problems),
        "features": _judge("features", raw.features, features_problems),
        "vm": _judge("vm", raw.vm, vm_problems),
        "engine": (
            _judge("engine", raw.engine, engine_problems)
            if windows_containers_enabled
            else HealthCheck[EngineStatus](status="disabled")
        ),
        "hosts_file": _judge("hosts_file", raw.hosts_file, hosts_file_problems),
        "policy": _judge("policy", raw.policy, policy_problems),
    }
    healthy = all(c.status in ("ok", "disabled") for c in checks.values())
    return HealthReport(healthy=healthy, **checks)


def _judge(
    name: str, outcome: _Outcome[T] | None, rules: Callable[[T], list[Problem]]
) -> HealthCheck[T]:
    if outcome is None or (outcome.result is None) == (outcome.error is None):
        raise OutputError(f"health: check {name!r} must have exactly one of result and error")
    if outcome.error is not None:
        return HealthCheck[T](
            status="error", problems=(error_problem(name, outcome.error),), error=outcome.error
        )
    assert outcome.result is not None
    problems = tuple(rules(outcome.result))
    return HealthCheck[T](
        status="problem" if problems else "ok", problems=problems, result=outcome.result
    )


def error_problem(check: str, error: CheckError) -> Problem:
    """The fix for a check the host could not run, chosen by error id and HRESULT."""
    if (
        error.hresult == HRESULT_ELEVATION_REQUIRED
        or error.error_id.startswith(WBEM_ACCESS_DENIED)
        or error.category == "PermissionDenied"
    ):
        return Problem(
            code="NOT_ELEVATED",
            message=f"The {check} check needs administrator rights ({error.error_id}).",
            fix="Run ddperm elevated: an administrator account, over PSRP or an elevated shell.",
        )
    if error.hresult == HRESULT_CLASS_NOT_REGISTERED:
        return Problem(
            code="DISM_UNAVAILABLE",
            message=f"DISM cannot run in this PowerShell ({error.error_id}: class not registered).",
            fix="Use Windows PowerShell 5.1 (the default remoting endpoint), not PowerShell 7.",
        )
    if error.error_id == "DdpermHostsLocked":
        return Problem(
            code="HOSTS_LOCKED",
            message="Another program holds the hosts file open (antivirus, an editor).",
            fix="Close that program or exclude the hosts file from scanning, then retry.",
        )
    if error.error_id.startswith(HYPERV_GET_VM_DENIED):
        return Problem(
            code="HYPERV_UNREACHABLE",
            message=f"Hyper-V refused to list virtual machines ({error.error_id}).",
            fix="Start the vmms service, and run ddperm as an administrator or a member of "
            "Hyper-V Administrators (S-1-5-32-578; log off and on after joining).",
            doc=DOC_HYPERV,
        )
    return Problem(
        code="CHECK_FAILED",
        message=f"The {check} check failed on the host: {error.error_id}.",
        fix=f"Look up the error id {error.error_id!r} ({error.exception_type}) and fix its cause.",
    )


def hyperv_problems(status: HyperVStatus) -> list[Problem]:
    state = status.feature_state
    if state is FeatureState.ABSENT:
        return [
            Problem(
                code="HYPERV_UNAVAILABLE",
                message="This edition of Windows has no Hyper-V feature.",
                fix="Use Windows Pro, Enterprise or Education, or Docker Desktop's WSL 2 backend.",
                doc=DOC_INSTALL,
            )
        ]
    if state is FeatureState.ENABLE_PENDING:
        return [
            Problem(
                code="HYPERV_RESTART_PENDING", message="Hyper-V waits for a restart.", fix=_RESTART
            )
        ]
    if state is not None and state is not FeatureState.ENABLED:
        return [
            Problem(
                code="HYPERV_DISABLED",
                message=f"The Hyper-V feature ({HYPERV_FEATURE}) is {state.value}.",
                fix=_enable(HYPERV_FEATURE),
                doc=DOC_HYPERV,
            )
        ]
    problems = []
    if not status.hypervisor_present:
        problems.append(
            Problem(
                code="HYPERVISOR_NOT_RUNNING",
                message="The Windows hypervisor is not running (HypervisorPresent is False).",
                fix="Set hypervisorlaunchtype to Auto (see the bootloader check), turn on "
                "virtualization in the firmware (BIOS/UEFI), then restart Windows.",
                doc=DOC_HYPERV,
            )
        )
    if status.vmms_status is None:
        problems.append(
            Problem(
                code="VMMS_NOT_INSTALLED",
                message="The Hyper-V Virtual Machine Management service (vmms) is missing.",
                fix=f"Repair Hyper-V: disable and re-enable {HYPERV_FEATURE}, then restart.",
                doc=DOC_HYPERV,
            )
        )
    elif status.vmms_status is not ServiceStatus.RUNNING:
        problems.append(
            Problem(
                code="VMMS_NOT_RUNNING",
                message=f"The vmms service is {status.vmms_status.value}.",
                fix="Start it: Start-Service -Name vmms (as an administrator).",
            )
        )
    return problems


def bootloader_problems(status: BootloaderStatus) -> list[Problem]:
    if status.launch_type is LaunchType.AUTO:
        return []
    what = {
        LaunchType.OFF: "is Off",
        LaunchType.NOT_SET: "is not set",
        LaunchType.OTHER: f"has the unexpected value {status.raw_value}",
    }[status.launch_type]
    return [
        Problem(
            code=f"HYPERVISOR_LAUNCH_{status.launch_type.name}",
            message=f"The boot entry's hypervisorlaunchtype {what}: the hypervisor will not start.",
            fix="Run 'bcdedit /set {current} hypervisorlaunchtype auto' as an administrator, "
            "then restart Windows.",
            doc=DOC_HYPERV,
        )
    ]


_FEATURE_RULES: dict[FeatureState, tuple[str, str]] = {
    FeatureState.DISABLED: ("FEATURE_DISABLED", "is disabled"),
    FeatureState.DISABLE_PENDING: (
        "FEATURE_DISABLE_PENDING",
        "will be disabled at the next restart",
    ),
    FeatureState.ENABLE_PENDING: ("FEATURE_ENABLE_PENDING", "is enabled after the next restart"),
    FeatureState.DISABLED_WITH_PAYLOAD_REMOVED: (
        "FEATURE_PAYLOAD_REMOVED",
        "is disabled and its files were removed",
    ),
    FeatureState.PARTIALLY_INSTALLED: ("FEATURE_INCOMPLETE", "is only partly installed"),
    FeatureState.SUPERSEDED: ("FEATURE_INCOMPLETE", "is superseded"),
    FeatureState.ABSENT: ("FEATURE_UNAVAILABLE", "does not exist on this edition of Windows"),
}


def _feature_fix(name: str, state: FeatureState) -> str:
    if state is FeatureState.ENABLE_PENDING:
        return _RESTART
    if state is FeatureState.ABSENT:
        return "Use Windows Pro, Enterprise or Education (Home has no Hyper-V or Containers)."
    if state is FeatureState.DISABLED_WITH_PAYLOAD_REMOVED:
        return _enable(name) + " Windows Update (or -Source with install media) supplies the files."
    return _enable(name)


def _enable(name: str) -> str:
    return (
        f"Enable-WindowsOptionalFeature -Online -FeatureName {name} -All, as an administrator, "
        "then restart Windows."
    )


def features_problems(report: FeaturesReport) -> list[Problem]:
    problems = [
        Problem(
            code=_FEATURE_RULES[f.state][0],
            message=f"The Windows feature {f.name} {_FEATURE_RULES[f.state][1]}.",
            fix=_feature_fix(f.name, f.state),
            doc=DOC_INSTALL,
        )
        for f in report.features
        if f.state is not FeatureState.ENABLED
    ]
    if report.restart_pending and not any(p.fix == _RESTART for p in problems):
        problems.append(
            Problem(code="RESTART_PENDING", message="Windows waits for a restart.", fix=_RESTART)
        )
    return problems


def engine_problems(status: EngineStatus) -> list[Problem]:
    if status.start_type is ServiceStartType.DISABLED:
        return [
            Problem(
                code="ENGINE_DISABLED",
                message="The Windows Docker engine service (docker) is Disabled.",
                fix="Set-Service -Name docker -StartupType Manual (as an administrator).",
            )
        ]
    return []


def vm_problems(result: VMInfoResult) -> list[Problem]:
    """A missing VM is no problem (Docker Desktop creates it); a *Critical state is."""
    vm = result.vm
    if vm is None or not vm.state.value.endswith("Critical"):
        return []
    return [
        Problem(
            code="VM_CRITICAL",
            message=f"{vm.name} is {vm.state.value}: Hyper-V cannot reach its files.",
            fix=f"Check that the disk holding {vm.vhd_path or 'its VHDX'} is present and "
            "readable, then restart the vmms service.",
        )
    ]


def hosts_file_problems(status: HostsFileStatus) -> list[Problem]:
    if status.unsupported_encoding:
        return [
            Problem(
                code="HOSTS_UNSUPPORTED_ENCODING",
                message=f"{status.path} is UTF-16 or UTF-32; ddperm only edits ANSI/UTF-8.",
                fix="Save the hosts file as UTF-8 without BOM, then run host.hosts_file.ensure().",
            )
        ]
    if status.in_sync:
        return []
    fix = "Run host.hosts_file.ensure() as an administrator."
    if status.readonly:
        fix = f"Clear the read-only attribute (attrib -r {status.path}). {fix}"
    return [
        Problem(
            code="HOSTS_ENTRY_MISSING",
            message=f"{status.path} lacks ddperm's kubernetes.docker.internal section.",
            fix=fix,
        )
    ]


_RECACHE = "Cache the organization's policy again with host.policy.cache(...) as an administrator."
_POLICY_PROBLEMS = {
    "DdpermPolicyUntrusted": (
        "POLICY_UNTRUSTED",
        "non-administrators could change the policy cache (its ACL, owner or a link)",
        "As an administrator, delete the cache folder (a non-administrator may have made or "
        "taken it over; caching refuses to write into it), then run host.policy.cache(...).",
    ),
    "DdpermPolicyTampered": (
        "POLICY_TAMPERED",
        "the policy cache was changed outside ddperm",
        _RECACHE,
    ),
    "DdpermPolicyUnreadable": ("POLICY_DAMAGED", "the policy cache cannot be read", _RECACHE),
    "DdpermPolicyInvalid": ("POLICY_DAMAGED", "the policy cache holds an invalid policy", _RECACHE),
}


def policy_problems(status: PolicyStatus) -> list[Problem]:
    """A cache that is not there is no problem (not every organization uses Registry Access
    Management; read() still fails closed); a cache that cannot be trusted is."""
    if status.problem is None or status.problem == "DdpermPolicyMissing":
        return []
    code, what, fix = _POLICY_PROBLEMS.get(
        status.problem,
        ("POLICY_DAMAGED", f"the policy cache is not usable ({status.problem})", _RECACHE),
    )
    return [
        Problem(
            code=code,
            message=f"Registry Access Management is denying every registry: {what} "
            f"({status.path}).",
            fix=fix,
        )
    ]
