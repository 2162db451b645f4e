"""Remote provisioning: compare a machine with a desired state, then make it so.

``plan(host, desired)`` reads the machine and returns the ordered steps with a diff,
changing nothing (check mode). ``apply(plan)`` runs them with progress, stops at the
first failure with a report of what was done and what was not, and a second
``apply(plan(host, desired))`` finds nothing to do.

Steps run in this order: docker-users members, the hosts entry, the RAM policy cache,
Windows features, the boot entry, a restart (when features or the boot entry need
one), the VM, the Windows engine. Without ``allow_reboot`` the run stops before the
restart with ``reboot_required``; with it, ddperm restarts Windows, waits for the
host to come back with a new boot time (within ``reboot_timeout``), plans again and
carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from pydantic import ConfigDict, Field
from tqdm.auto import tqdm

from ddperm.components.checks import DEFAULT_REQUIRED_FEATURES, FeatureState, LaunchType
from ddperm.components.policy import RegistryPolicy
from ddperm.components.setup import check_member
from ddperm.components.vm import VMSpec
from ddperm.errors import DdpermError, HostError, PolicyError, TransportError
from ddperm.host import Host
from ddperm.model import HostModel

StepKind = Literal[
    "docker_user",
    "hosts_entry",
    "ram_policy",
    "features",
    "hypervisor_launch",
    "restart",
    "vm",
    "engine",
]
_DONE_FEATURE_STATES = (FeatureState.ENABLED, FeatureState.ENABLE_PENDING)


class ElevationRequired(PolicyError):
    """Provisioning needs an elevated (administrator) session on the host."""


class DesiredState(HostModel):
    """What a provisioned developer machine looks like."""

    features: tuple[str, ...] = DEFAULT_REQUIRED_FEATURES
    hypervisor_launch_auto: bool = True
    docker_users: tuple[str, ...] = ()
    hosts_entry: bool = True
    ram_policy: RegistryPolicy | None = None
    vm: VMSpec | None = None
    engine: Literal["running", "stopped"] | None = None

    def model_post_init(self, context: object) -> None:
        for member in self.docker_users:
            check_member(member)


class Step(HostModel):
    """One change: what it touches, and the state before and after (the diff)."""

    kind: StepKind
    target: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.kind} {self.target}: {self.before} -> {self.after}"


class Plan(HostModel):
    """The ordered steps that take ``host`` to ``desired`` (empty when it is there)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    host: Host = Field(exclude=True, repr=False)
    desired: DesiredState
    steps: tuple[Step, ...]
    restart_pending: bool

    @property
    def changes(self) -> bool:
        return bool(self.steps)

    def diff(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, 1)) or "no changes"


StepStatus = Literal["done", "failed", "not_done"]


class StepResult(HostModel):
    step: Step
    status: StepStatus
    detail: str = ""


class ApplyResult(HostModel):
    """What apply did: each step's outcome, and whether Windows still needs a restart."""

    results: tuple[StepResult, ...]
    reboot_required: bool
    rebooted: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.reboot_required

    @property
    def changed(self) -> bool:
        return any(r.status == "done" for r in self.results)


def plan(host: Host, desired: DesiredState) -> Plan:
    """Read the machine and list the steps to reach ``desired``; changes nothing."""
    boot = host.setup.boot_state()
    if not boot.elevated:
        raise ElevationRequired(
            "provisioning requires elevation: connect as a member of Administrators "
            "(over PSRP) or run from an elevated prompt; nothing was changed"
        )
    steps: list[Step] = []
    steps += _docker_user_steps(host, desired)
    if desired.hosts_entry and not host.hosts_file.status().ok:
        steps.append(
            Step(
                kind="hosts_entry",
                target="kubernetes.docker.internal",
                before="missing or stale",
                after="present once",
            )
        )
    steps += _policy_steps(host, desired)
    features = host.features.check(desired.features) if desired.features else None
    if features is not None:
        todo = [f for f in features.features if f.state not in _DONE_FEATURE_STATES]
        if todo:
            steps.append(
                Step(
                    kind="features",
                    target=",".join(f.name for f in todo),
                    before=",".join(f.state.value for f in todo),
                    after="Enabled",
                )
            )
    if desired.hypervisor_launch_auto:
        launch = host.bootloader.status().launch_type
        if launch is not LaunchType.AUTO:
            steps.append(
                Step(
                    kind="hypervisor_launch", target="{current}", before=launch.value, after="Auto"
                )
            )
    pending = boot.restart_pending or bool(
        features and any(f.state is FeatureState.ENABLE_PENDING for f in features.features)
    )
    if pending or any(s.kind in ("features", "hypervisor_launch") for s in steps):
        steps.append(
            Step(kind="restart", target="Windows", before="changes pending", after="restarted")
        )
    if desired.vm is not None and not _vm_exists(host):
        spec = desired.vm
        steps.append(
            Step(
                kind="vm",
                target="DockerDesktopVM",
                before="absent",
                after=f"{spec.cpus} CPUs, {spec.memory_bytes // 2**20} MiB, "
                f"{spec.disk_size_bytes // 2**30} GiB in {spec.data_folder}",
            )
        )
    if desired.engine is not None:
        engine = host.engine.status()
        if engine.running != (desired.engine == "running"):
            before = "running" if engine.running else "stopped"
            steps.append(
                Step(
                    kind="engine",
                    target="docker",
                    before=before if engine.installed else "not installed",
                    after=desired.engine,
                )
            )
    return Plan(host=host, desired=desired, steps=tuple(steps), restart_pending=pending)


def _vm_exists(host: Host) -> bool:
    """Whether DockerDesktopVM exists; without a running Hyper-V it cannot yet."""
    if not host.hyperv.status().enabled:
        return False
    return host.vm.info() is not None


def _docker_user_steps(host: Host, desired: DesiredState) -> list[Step]:
    if not desired.docker_users:
        return []
    group = host.setup.docker_users(desired.docker_users)
    steps = []
    for account in group.members:
        if not account.member:
            if account.sid is None:
                before = "unknown account"
            else:
                before = "not a member" if group.exists else "group missing"
            steps.append(
                Step(kind="docker_user", target=account.name, before=before, after="member")
            )
    return steps


def _policy_steps(host: Host, desired: DesiredState) -> list[Step]:
    wanted = desired.ram_policy
    if wanted is None:
        return []
    status = host.policy.status()
    if status.ok:
        cached = host.policy.read()
        if (
            RegistryPolicy.model_validate(
                cached.model_dump(include=set(RegistryPolicy.model_fields))
            )
            == wanted
        ):
            return []
    before = status.problem or f"{status.registries} registries for {status.organization}"
    after = f"{len(wanted.allowed_registries)} registries for {wanted.organization}"
    return [Step(kind="ram_policy", target="C:\\ProgramData\\ddperm", before=before, after=after)]


def _run_step(host: Host, desired: DesiredState, step: Step) -> str:
    """Carry out one step; returns a short detail for the report."""
    if step.kind == "docker_user":
        membership = host.setup.add_docker_user(step.target)
        return "group created, member added" if membership.group_created else "member added"
    if step.kind == "hosts_entry":
        return f"hosts file written ({host.hosts_file.ensure().size} bytes)"
    if step.kind == "ram_policy":
        assert desired.ram_policy is not None
        return f"cached, sha256 {host.policy.cache(desired.ram_policy).sha256[:12]}"
    if step.kind == "features":
        result = host.setup.enable_features(step.target.split(","))
        return ", ".join(f"{f.name} {f.after.value}" for f in result.features)
    if step.kind == "hypervisor_launch":
        return f"hypervisorlaunchtype {host.setup.enable_hypervisor_launch().after.value}"
    if step.kind == "vm":
        assert desired.vm is not None
        if host.vm.info() is not None:
            return "already present"
        return f"{host.vm.create(desired.vm).name} created"
    if step.kind == "engine":
        engine = host.engine.start() if step.after == "running" else host.engine.stop()
        return f"engine {engine.after.status.value if engine.after.status else 'not installed'}"
    raise ValueError(f"unknown step {step.kind}")  # restart is handled by apply


def apply(
    planned: Plan,
    *,
    allow_reboot: bool = False,
    reboot_timeout: float = 600.0,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyResult:
    """Run the plan's steps in order; see the module docstring."""
    host, desired = planned.host, planned.desired
    results: list[StepResult] = []
    steps = list(planned.steps)
    rebooted = False
    with tqdm(total=len(steps), desc="ddperm provision", unit="step", disable=not progress) as bar:
        while steps:
            step = steps.pop(0)
            if step.kind == "restart":
                if not allow_reboot:
                    results.append(
                        StepResult(
                            step=step,
                            status="not_done",
                            detail="restart not allowed (allow_reboot=False)",
                        )
                    )
                    results += [
                        StepResult(step=s, status="not_done", detail="after the restart")
                        for s in steps
                    ]
                    return ApplyResult(
                        results=tuple(results), reboot_required=True, rebooted=rebooted
                    )
                try:
                    _restart_and_wait(host, reboot_timeout, sleep)
                except DdpermError as exc:
                    return _stopped(results, step, steps, exc, rebooted)
                rebooted = True
                results.append(StepResult(step=step, status="done", detail="back online"))
                bar.update(1)
                steps = list(plan(host, desired).steps)  # re-check, then carry on
                bar.total = bar.n + len(steps)
                continue
            try:
                detail = _run_step(host, desired, step)
            except DdpermError as exc:
                return _stopped(results, step, steps, exc, rebooted)
            results.append(StepResult(step=step, status="done", detail=detail))
            bar.update(1)
    return ApplyResult(results=tuple(results), reboot_required=False, rebooted=rebooted)


def _stopped(
    results: list[StepResult], step: Step, rest: list[Step], exc: DdpermError, rebooted: bool
) -> ApplyResult:
    failed = StepResult(step=step, status="failed", detail=f"{type(exc).__name__}: {exc}")
    skipped = [
        StepResult(step=s, status="not_done", detail=f"after {step.kind} failed") for s in rest
    ]
    return ApplyResult(
        results=(*results, failed, *skipped),
        reboot_required=False,
        rebooted=rebooted,
        error=f"{step.kind}: {exc}",
    )


def _restart_and_wait(host: Host, timeout: float, sleep: Callable[[float], None]) -> None:
    """Restart Windows and wait until it answers with a newer boot time.

    Win32_OperatingSystem.LastBootUpTime is the wall clock minus the tick count, so it
    moves a little between two queries without any restart (clock adjustments:
    windows_exporter #74 and #2336, psutil #1007). A real restart happens only after the
    delay, so its boot time is later than the old one by more than the delay; anything
    less is the old boot.
    """
    scheduled = host.setup.restart()
    newer_than = scheduled.last_boot + timedelta(seconds=scheduled.delay_seconds)
    deadline = time.monotonic() + timeout
    pause = 0.25
    while time.monotonic() < deadline:
        try:
            if host.setup.boot_state().last_boot > newer_than:
                return
        except (TransportError, HostError):
            pass  # going down or still starting: its services answer later
        sleep(pause)
        pause = min(5.0, pause * 2)
    raise TransportError(f"the host did not come back within {timeout:g} s of the restart")
