"""Provisioning a machine end to end: check mode, apply, reboot, second apply, failures."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from ddperm.components.policy import RegistryPolicy
from ddperm.components.vm import VMSpec
from ddperm.errors import PolicyError
from ddperm.provision import DesiredState, ElevationRequired, apply, plan
from ddperm.testing import FakeHost
from ddperm.testing.fakehost import FakeService
from ddperm.testing.winrm import serve
from ddperm.transports.psrp import PSRPRunner, connect
from tests.backends import Backend

POLICY = RegistryPolicy(
    organization="acme",
    allowed_registries=("docker.io", "registry.acme.example:5000"),
    fetched_at=datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc),
)
DESIRED = DesiredState(
    docker_users=("alice",),
    ram_policy=POLICY,
    vm=VMSpec(cpus=4, memory_bytes=4 * 2**30),
    engine="running",
)
WRITES = {
    "docker_users_add",
    "hosts_write",
    "policy_cache",
    "features_enable",
    "bootloader_enable",
    "restart",
    "vm_create",
    "engine_start",
    "engine_stop",
}


def fresh_machine() -> FakeHost:
    """A machine before Docker Desktop whose Windows engine service is registered anyway:
    the one step provisioning cannot do (``FakeHost.fresh()`` has no such service)."""
    fake = FakeHost.fresh()
    fake.services["docker"] = FakeService("docker", "Docker Engine")
    return fake


def _writes(fake: FakeHost) -> list[str]:
    return [name for name, _ in fake.calls if name in WRITES]


def test_check_mode_lists_the_steps_in_order_and_changes_nothing(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    before = copy.deepcopy((fake.features, fake.groups, fake.hypervisorlaunchtype, fake.vms))
    backend = make_backend(fake)
    planned = plan(backend.host, DESIRED)
    assert [s.kind for s in planned.steps] == [
        "docker_user",
        "hosts_entry",
        "ram_policy",
        "features",
        "hypervisor_launch",
        "restart",
        "vm",
        "engine",
    ]
    features = next(s for s in planned.steps if s.kind == "features")
    assert features.before == "Disabled,Disabled,Disabled"
    assert "1. docker_user alice: group missing -> member" in planned.diff()
    assert _writes(fake) == []
    assert (fake.features, fake.groups, fake.hypervisorlaunchtype, fake.vms) == before


def test_apply_without_reboot_stops_before_the_restart(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    backend = make_backend(fake)
    result = apply(plan(backend.host, DESIRED), progress=False)
    statuses = {r.step.kind: r.status for r in result.results}
    assert result.reboot_required
    assert not result.ok
    assert statuses["features"] == "done"
    assert statuses["restart"] == "not_done"
    assert statuses["vm"] == "not_done"
    assert fake.features["Microsoft-Hyper-V"] == "EnablePending"
    assert fake.vms == []
    assert [m.lower() for m in fake.groups["docker-users"].members] == ["dev-pc01\\alice"]


def test_apply_with_reboot_finishes_and_a_second_apply_changes_nothing(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    backend = make_backend(fake)
    boot = fake.last_boot
    result = apply(plan(backend.host, DESIRED), allow_reboot=True, progress=False)
    assert result.ok, result
    assert result.rebooted
    assert fake.last_boot > boot
    assert fake.features["Microsoft-Hyper-V"] == "Enabled"
    assert fake.hypervisor_present
    (vm,) = fake.vms
    assert (vm.name, vm.processor_count, vm.state) == ("DockerDesktopVM", 4, "Off")
    assert fake.services["docker"].status == "Running"
    assert backend.host.policy.read().allowed_registries == POLICY.allowed_registries
    fake.calls.clear()
    again = plan(backend.host, DESIRED)
    assert again.steps == ()
    second = apply(again, progress=False)
    assert second.ok
    assert not second.changed
    assert _writes(fake) == []


def test_a_failure_stops_the_run_and_reports_what_was_and_was_not_done(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    fake.fs.free["C:"] = 2**20  # the VHDX cannot be created: disk full
    backend = make_backend(fake)
    result = apply(plan(backend.host, DESIRED), allow_reboot=True, progress=False)
    statuses = [(r.step.kind, r.status) for r in result.results]
    assert ("vm", "failed") in statuses
    assert ("engine", "not_done") in statuses
    assert result.error is not None
    assert result.error.startswith("vm:")
    assert fake.vms == []
    assert fake.services["docker"].status == "Stopped"


def test_not_elevated_is_a_clear_error_and_nothing_changes(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    fake.caller.elevated = False
    backend = make_backend(fake)
    with pytest.raises(ElevationRequired, match="requires elevation"):
        plan(backend.host, DESIRED)
    assert _writes(fake) == []


def test_already_pending_features_only_need_the_restart(
    make_backend: Callable[..., Backend],
) -> None:
    fake = fresh_machine()
    for name in ("Microsoft-Hyper-V", "Microsoft-Hyper-V-Hypervisor", "Containers"):
        fake.features[name] = "EnablePending"
    fake.hypervisorlaunchtype = "Auto"
    backend = make_backend(fake)
    kinds = [s.kind for s in plan(backend.host, DesiredState()).steps]
    assert kinds == ["hosts_entry", "restart"]


@pytest.mark.parametrize("member", ["*", "dev?", "DOMAIN\\*", "a;b", "", "x" * 200])
def test_bad_member_names_are_refused_before_anything_runs(member: str) -> None:
    with pytest.raises(PolicyError):
        DesiredState(docker_users=(member,))


def test_unknown_account_fails_that_step(make_backend: Callable[..., Backend]) -> None:
    fake = fresh_machine()
    backend = make_backend(fake)
    desired = DesiredState(docker_users=("mallory",), features=(), hypervisor_launch_auto=False)
    result = apply(plan(backend.host, desired), progress=False)
    (first, *_rest) = result.results
    assert first.status == "failed"
    assert "IdentityNotMappedException" in first.detail
    assert "docker-users" in fake.groups  # the group was made before the name failed


def test_over_winrm_the_machine_goes_away_and_comes_back() -> None:
    fake = fresh_machine()
    with (
        serve(fake, restart_downtime=1.0) as endpoint,
        connect(**endpoint.connect_options()) as host,
    ):
        result = apply(plan(host, DESIRED), allow_reboot=True, progress=False)
        assert result.ok, result
        assert endpoint.restarts == 1
        assert isinstance(host.runner, PSRPRunner)
        assert host.runner.pool_opens >= 2  # the restart killed the shell; the pool was reopened
        assert fake.features["Microsoft-Hyper-V"] == "Enabled"
        assert plan(host, DESIRED).steps == ()


def test_restart_wait_ignores_the_boot_time_drift_of_the_old_boot() -> None:
    # Windows' LastBootUpTime moves slightly between queries without any restart (it is the
    # wall clock minus the tick count). Until the scheduled restart really happened, the
    # wait must not take such a drifted old boot time for a new boot.
    from datetime import timedelta

    from ddperm.host import Host
    from ddperm.provision import _restart_and_wait
    from ddperm.testing import TwinRunner

    fake = fresh_machine()
    fake.boot_time_drift = timedelta(milliseconds=600)
    delays: list[int] = []
    fake.restart_hooks.append(delays.append)  # the restart happens when the test says so
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:
            fake.restart(delays[0])

    with Host(TwinRunner(fake)) as host:
        _restart_and_wait(host, timeout=60.0, sleep=sleep)
    assert delays == [10]
    assert len(polls) == 3  # it returned only after the restart


def test_an_orphaned_member_sid_does_not_break_docker_users(
    make_backend: Callable[..., Backend],
) -> None:
    # Windows PowerShell 5.1's Get-LocalGroupMember fails on a group holding a SID without
    # a name (a deleted or Azure AD account, PowerShell #2996); ddperm reads the members as
    # raw SIDs, so such a member never matters (more in tests/test_docker_users.py).
    fake = FakeHost()
    orphan = "S-1-5-21-1004336348-1177238915-682003330-1099"
    fake.groups["docker-users"].members.append(orphan)
    backend = make_backend(fake)
    status = backend.host.setup.docker_users(["dev", "alice", "mallory"])
    assert [(a.name, a.member) for a in status.members] == [
        ("dev", True),
        ("alice", False),
        ("mallory", False),
    ]
    assert status.members[2].sid is None  # Windows cannot resolve it
    planned = plan(backend.host, DesiredState(docker_users=("alice", "mallory"), features=()))
    users = [(s.target, s.before) for s in planned.steps if s.kind == "docker_user"]
    assert users == [("alice", "not a member"), ("mallory", "unknown account")]
    backend.host.setup.add_docker_user("alice")
    assert orphan in fake.groups["docker-users"].members
    assert backend.host.setup.docker_users(["alice"]).members[0].member


@pytest.mark.parametrize("accounts", [[], ["x"] * 33, ["*"]])
def test_docker_users_question_is_checked_before_it_runs(
    make_backend: Callable[..., Backend], accounts: list[str]
) -> None:
    fake = FakeHost()
    backend = make_backend(fake)
    with pytest.raises(PolicyError):
        backend.host.setup.docker_users(accounts)
    assert fake.calls == []


def test_without_the_engine_service_the_engine_step_fails_clearly(
    make_backend: Callable[..., Backend],
) -> None:
    fake = FakeHost.fresh()
    backend = make_backend(fake)
    desired = DesiredState(features=(), hypervisor_launch_auto=False, engine="running")
    planned = plan(backend.host, desired)
    (engine,) = [s for s in planned.steps if s.kind == "engine"]
    assert (engine.before, engine.after) == ("not installed", "running")
    result = apply(planned, progress=False)
    assert result.error is not None
    assert "DdpermEngineNotInstalled" in result.error
    assert "Docker Desktop" in result.error


def test_the_twin_writes_boot_time_in_dotnets_round_trip_form() -> None:
    """Get-DdpermBootState writes ``.ToUniversalTime().ToString('o')``: seven fraction digits
    and Z (the conformance kit reported the twin's Python isoformat() as a difference)."""
    from datetime import datetime, timezone

    from ddperm.testing.jobs.setup import round_trip

    assert round_trip(datetime(2026, 12, 4, 16, 28, 15, 123456, tzinfo=timezone.utc)) == (
        "2026-12-04T16:28:15.1234560Z"
    )
    assert round_trip(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == (
        "2026-01-02T03:04:05.0000000Z"
    )
