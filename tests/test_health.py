"""Contract tests of host.health(): one round trip, per-check status, problems and fixes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from ddperm import hostsfile
from ddperm.components.health import HealthReport, _RawHealth
from ddperm.components.policy import RegistryPolicy
from ddperm.scripts import script_root
from ddperm.testing import HOSTS_PATH, FakeHost
from ddperm.testing.fs import EVERYONE
from ddperm.testing.jobs.hyperv import seed_docker_vm
from ddperm.testing.jobs.policy import POLICY_FILE
from tests.backends import Backend


def seeded(backend: Backend) -> FakeHost:
    """The backend's twin, its hosts file already holding ddperm's section (ensure ran)."""
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return with_hosts_entry(backend.fake)


def with_hosts_entry(fake: FakeHost) -> FakeHost:
    fake.fs.write_bytes(HOSTS_PATH, hostsfile.plan(fake.fs.read_bytes(HOSTS_PATH)))
    return fake


def without_messages(data: object) -> object:
    """``data`` without the error messages (display text: localised, never decided on)."""
    if isinstance(data, dict):
        is_error = "error_id" in data
        return {
            k: without_messages(v) for k, v in data.items() if not (is_error and k == "message")
        }
    if isinstance(data, (list, tuple)):
        return [without_messages(v) for v in data]
    return data


def codes(report: HealthReport, check: str) -> list[str]:
    return [p.code for p in report.checks[check].problems]


def test_a_healthy_host_in_one_round_trip(backend: Backend) -> None:
    fake = seeded(backend)
    report = backend.host.health()
    assert report.healthy
    assert {name: c.status for name, c in report.checks.items()} == {
        "hyperv": "ok",
        "bootloader": "ok",
        "features": "ok",
        "vm": "ok",
        "engine": "ok",
        "hosts_file": "ok",
        "policy": "ok",
    }
    assert report.problems == []
    assert [name for name, _ in fake.calls] == ["health"]


def test_health_results_equal_the_single_checks(backend: Backend) -> None:
    fake = seeded(backend)
    fake.features["Containers"] = "EnablePending"
    fake.hypervisorlaunchtype = None
    seed_docker_vm(fake, state="Running")
    report = backend.host.health()
    assert report.hyperv.result == backend.host.hyperv.status()
    assert report.bootloader.result == backend.host.bootloader.status()
    assert report.features.result == backend.host.features.check()
    assert report.engine.result == backend.host.engine.status()
    assert report.hosts_file.result == backend.host.hosts_file.status()
    assert report.policy.result == backend.host.policy.status()
    assert report.vm.result is not None
    assert report.vm.result.vm == backend.host.vm.info()


@pytest.mark.parametrize(
    ("seed", "check", "expected"),
    [
        (
            lambda f: f.features.update({"Microsoft-Hyper-V": "Disabled"}),
            "hyperv",
            ["HYPERV_DISABLED"],
        ),
        (
            lambda f: f.features.update({"Microsoft-Hyper-V": "EnablePending"}),
            "hyperv",
            ["HYPERV_RESTART_PENDING"],
        ),
        (lambda f: setattr(f, "hypervisor_present", False), "hyperv", ["HYPERVISOR_NOT_RUNNING"]),
        (lambda f: f.services.pop("vmms"), "hyperv", ["VMMS_NOT_INSTALLED"]),
        (
            lambda f: setattr(f.services["vmms"], "status", "Stopped"),
            "hyperv",
            ["VMMS_NOT_RUNNING"],
        ),
        (
            lambda f: setattr(f, "hypervisorlaunchtype", "Off"),
            "bootloader",
            ["HYPERVISOR_LAUNCH_OFF"],
        ),
        (
            lambda f: setattr(f, "hypervisorlaunchtype", None),
            "bootloader",
            ["HYPERVISOR_LAUNCH_NOT_SET"],
        ),
        (lambda f: f.features.update({"Containers": "Disabled"}), "features", ["FEATURE_DISABLED"]),
        (
            lambda f: f.features.update({"Containers": "DisabledWithPayloadRemoved"}),
            "features",
            ["FEATURE_PAYLOAD_REMOVED"],
        ),
        (
            lambda f: f.features.update({"Containers": "EnablePending"}),
            "features",
            ["FEATURE_ENABLE_PENDING"],
        ),
        (
            lambda f: f.features.update({"Containers": "DisablePending"}),
            "features",
            ["FEATURE_DISABLE_PENDING", "RESTART_PENDING"],
        ),
        (lambda f: f.features.pop("Containers"), "features", ["FEATURE_UNAVAILABLE"]),
        (lambda f: setattr(f, "restart_pending", True), "features", ["RESTART_PENDING"]),
        (
            lambda f: setattr(f.services["docker"], "start_type", "Disabled"),
            "engine",
            ["ENGINE_DISABLED"],
        ),
    ],
)
def test_each_problem_is_found_with_a_fix(
    backend: Backend, seed: Callable[[FakeHost], object], check: str, expected: list[str]
) -> None:
    seed(seeded(backend))
    report = backend.host.health()
    assert not report.healthy
    assert report.checks[check].status == "problem"
    assert codes(report, check) == expected
    assert all(p.fix for p in report.problems)


def test_vmms_stopped_also_makes_the_vm_check_unreachable(backend: Backend) -> None:
    seeded(backend).services["vmms"].status = "Stopped"
    report = backend.host.health()
    assert codes(report, "hyperv") == ["VMMS_NOT_RUNNING"]
    assert report.vm.status == "error"
    assert codes(report, "vm") == ["HYPERV_UNREACHABLE"]


def test_a_missing_vm_is_fine_a_critical_one_is_not(backend: Backend) -> None:
    fake = seeded(backend)
    report = backend.host.health()
    assert report.vm.status == "ok"
    assert report.vm.result is not None
    assert report.vm.result.vm is None
    seed_docker_vm(fake, state="OffCritical")
    assert codes(backend.host.health(), "vm") == ["VM_CRITICAL"]


def test_hosts_file_without_the_entry(backend: Backend) -> None:
    fake = seeded(backend)
    fake.fs.write_bytes(HOSTS_PATH, b"127.0.0.1 localhost\r\n")
    fake.fs.file_data(HOSTS_PATH).readonly = True
    (problem,) = backend.host.health().hosts_file.problems
    assert problem.code == "HOSTS_ENTRY_MISSING"
    assert problem.fix.startswith("Clear the read-only attribute")


def test_a_locked_hosts_file_fails_only_its_own_check(backend: Backend) -> None:
    fake = seeded(backend)
    fake.fs.file_data(HOSTS_PATH).locked = True
    report = backend.host.health()
    assert report.hosts_file.status == "error"
    assert report.hosts_file.error is not None
    assert report.hosts_file.error.error_id == "DdpermHostsLocked"
    assert codes(report, "hosts_file") == ["HOSTS_LOCKED"]
    others = [c.status for name, c in report.checks.items() if name != "hosts_file"]
    assert others == ["ok"] * 6
    assert len(fake.calls) == 1


def test_no_policy_cache_is_fine_an_untrusted_one_is_not(backend: Backend) -> None:
    fake = seeded(backend)
    report = backend.host.health()
    assert report.policy.status == "ok"
    assert report.policy.result is not None
    assert report.policy.result.cached is False
    fetched = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
    backend.host.policy.cache(
        RegistryPolicy(organization="myorg", allowed_registries=("docker.io",), fetched_at=fetched)
    )
    assert backend.host.health().policy.status == "ok"
    fake.fs.set_acl(POLICY_FILE, {EVERYONE: "FullControl"})
    report = backend.host.health()
    assert codes(report, "policy") == ["POLICY_UNTRUSTED"]
    assert "host.policy.cache" in report.policy.problems[0].fix


def test_enable_fix_names_the_feature(backend: Backend) -> None:
    seeded(backend).features["Microsoft-Hyper-V-Hypervisor"] = "Disabled"
    (problem,) = backend.host.health().features.problems
    assert "-FeatureName Microsoft-Hyper-V-Hypervisor" in problem.fix


def test_not_elevated_each_check_reports_its_own_error(backend: Backend) -> None:
    fake = seeded(backend)
    fake.caller.elevated = False
    report = backend.host.health()
    assert not report.healthy
    assert report.hyperv.status == "ok"  # HypervisorPresent and vmms need no elevation
    assert report.hyperv.result is not None
    assert report.hyperv.result.feature_state is None
    assert report.bootloader.status == "error"
    assert report.bootloader.error is not None
    assert report.bootloader.error.error_id == "DdpermElevationRequired"
    assert report.features.status == "error"
    assert report.features.error is not None
    assert (
        report.features.error.error_id == "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand"
    )
    assert codes(report, "bootloader") == codes(report, "features") == ["NOT_ELEVATED"]
    assert report.engine.status == "ok"
    assert len(fake.calls) == 1


def test_dism_broken_under_pwsh7_does_not_stop_the_other_checks(backend: Backend) -> None:
    fake = seeded(backend)
    fake.dism_com_registered = False
    report = backend.host.health()
    assert report.features.status == "error"
    assert codes(report, "features") == ["DISM_UNAVAILABLE"]
    assert report.features.error is not None
    assert report.features.error.hresult == -2147221164
    assert [report.hyperv.status, report.bootloader.status, report.engine.status] == ["ok"] * 3
    assert len(fake.calls) == 1


def test_engine_is_disabled_by_policy_not_a_problem(make_backend: Callable[..., Backend]) -> None:
    fake = with_hosts_entry(FakeHost())
    fake.services["docker"].start_type = "Disabled"  # would be a problem if the engine were asked
    backend = make_backend(fake, windows_containers_enabled=False)
    report = backend.host.health()
    assert report.healthy
    assert report.engine.status == "disabled"
    assert report.engine.result is None
    assert report.engine.problems == ()
    assert fake.calls == [("health", {**fake.calls[0][1], "WindowsContainers": False})]


def test_overall_unhealthy_when_any_check_has_a_problem(backend: Backend) -> None:
    fake = seeded(backend)
    fake.hypervisorlaunchtype = "Off"
    fake.features["Containers"] = "Disabled"
    report = backend.host.health()
    assert not report.healthy
    assert {p.code for p in report.problems} == {"HYPERVISOR_LAUNCH_OFF", "FEATURE_DISABLED"}


@pytest.mark.parametrize("culture", ["de-DE", "ja-JP", "zh-CN"])
def test_health_does_not_change_with_the_display_language(
    make_backend: Callable[..., Backend], culture: str
) -> None:
    def report(ui_culture: str) -> object:
        fake = with_hosts_entry(FakeHost())
        fake.os.ui_culture = ui_culture
        fake.caller.elevated = False
        fake.hypervisorlaunchtype = "Off"
        return without_messages(make_backend(fake).host.health().model_dump())

    assert report(culture) == report("en-US")


def test_health_script_writes_every_check_the_model_reads() -> None:
    text = (script_root() / "health.ps1").read_text()
    written = list(dict.fromkeys(re.findall(r"\$report\.(\w+) = ", text)))
    assert written == list(_RawHealth.model_fields) == list(HealthReport.model_fields)[1:]
