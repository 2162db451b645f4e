"""The conformance kit: a twin standing in for the real host (on every backend).

A twin seeded from a host's answers must answer exactly like it: for machines in
non-default states the kit reports no difference. A "real" host whose answers are
patched (only the real side, never the compared twin) yields exactly those differences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ddperm import RegistryPolicy
from ddperm.conformance import read_jobs, run_conformance, seed
from ddperm.conformance.capture import capture
from ddperm.conformance.compare import compare
from ddperm.errors import TransportError
from ddperm.retry import NO_RETRY
from ddperm.scripts import ScriptKind, ScriptRegistry, default_registry, script_root
from ddperm.scripts import main as scripts_main
from ddperm.testing import (
    HOSTS_PATH,
    ErrorRecord,
    FakeHost,
    FakeService,
    FakeVHD,
    FakeVM,
    twin_host,
)
from ddperm.testing.fakehost import POLICY_FOLDER
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, USERS
from ddperm.testing.jobs.policy import POLICY_FILE
from ddperm.testing.winrm import shared_endpoint
from ddperm.transports.psrp import connect
from tests.backends import Backend

MEMBER = r"DEV-PC01\dev"
DISK = r"D:\DockerDesktop\vm-data\DockerDesktop.vhdx"


def hyperv_off() -> FakeHost:
    """Hyper-V disabled, the hypervisor not launched, no hosts entry, the engine stopped."""
    fake = FakeHost()
    for name in ("Microsoft-Hyper-V-All", "Microsoft-Hyper-V", "Microsoft-Hyper-V-Hypervisor"):
        fake.features[name] = "Disabled"
    fake.hypervisorlaunchtype = "Off"
    fake.hypervisor_present = False
    fake.services["vmms"].status = "Stopped"
    fake.services["docker"].status = "Stopped"
    return fake


def vm_running() -> FakeHost:
    """A server with a running VM on D:, the engine running, hosts entry and policy cached."""
    fake = FakeHost()
    fake.os.caption, fake.os.computer_name = "Microsoft Windows Server 2022 Datacenter", "BLD-07"
    fake.os.version, fake.os.build, fake.os.powershell_version = "10.0.20348", 20348, "5.1.20348.1"
    fake.last_boot = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    fake.features["Containers"] = "EnablePending"
    fake.restart_pending = True
    fake.hypervisorlaunchtype = None
    fake.fs.add_volume("D:")
    fake.fs.create_sized_file(DISK, 5 * 2**30)
    fake.vhds[DISK.lower()] = FakeVHD(DISK, 64 * 2**30, attached=True, minimum_size=3 * 2**30)
    fake.vms.append(FakeVM("DockerDesktopVM", "Running", processor_count=4, vhd_path=DISK))
    fake.services["docker"] = FakeService("docker", "Docker Engine", "Running", "Automatic")
    fake.groups["docker-users"].members.append(r"CORP\bob")
    host = twin_host(fake)
    host.hosts_file.ensure()
    host.policy.cache(
        RegistryPolicy(
            organization="acme",
            allowed_registries=("docker.io", "registry.acme.example:5000"),
            fetched_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        )
    )
    fake.calls.clear()
    return fake


def not_elevated() -> FakeHost:
    """Not elevated (DISM, BCD and Hyper-V refuse), no docker-users, no Windows engine."""
    fake = FakeHost()
    fake.caller.elevated = False
    del fake.groups["docker-users"]
    del fake.services["docker"]
    fake.vms.append(FakeVM("DockerDesktopVM"))
    return fake


def damaged() -> FakeHost:
    """PowerShell 7 without DISM's COM class, a Home edition without Containers, a locked
    hosts file, a tampered policy cache, no VMMS service (so no VM can be seen)."""
    fake = FakeHost()
    fake.dism_com_registered = False
    del fake.features["Containers"]
    del fake.services["vmms"]
    twin_host(fake).policy.cache(
        RegistryPolicy(
            organization="acme",
            allowed_registries=("docker.io",),
            fetched_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        )
    )
    document = json.loads(fake.fs.read_bytes(POLICY_FILE))
    document["policy"] = document["policy"].replace("docker.io", "evil.example")
    fake.fs.write_bytes(POLICY_FILE, json.dumps(document).encode())
    fake.fs.file_data(HOSTS_PATH).locked = True
    fake.vms.append(FakeVM("DockerDesktopVM"))
    return fake


def no_vm_disk_missing() -> FakeHost:
    """A VM whose disk file is gone, an empty hosts file gone too, a policy never cached."""
    fake = FakeHost()
    fake.vms.append(FakeVM("DockerDesktopVM", vhd_path=r"C:\gone\DockerDesktop.vhdx"))
    fake.fs.remove(HOSTS_PATH)
    return fake


def _cached(fake: FakeHost) -> FakeHost:
    twin_host(fake).policy.cache(
        RegistryPolicy(
            organization="acme",
            allowed_registries=("docker.io",),
            fetched_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        )
    )
    return fake


def policy_open_to_users_hosts_for_admins() -> FakeHost:
    """Users may change the policy folder; only an elevated admin may read the hosts file."""
    fake = _cached(FakeHost())
    fake.fs.set_acl(POLICY_FOLDER, {SYSTEM: "FullControl", USERS: "Modify"})
    fake.fs.set_acl(HOSTS_PATH, {ADMINISTRATORS: "FullControl"})
    fake.caller.elevated = False
    return fake


def policy_garbled_hosts_huge() -> FakeHost:
    """A policy cache that is not JSON, a hosts file larger than ddperm edits."""
    fake = _cached(FakeHost())
    fake.fs.write_bytes(POLICY_FILE, b"\xff\xfe garbage")
    fake.fs.write_bytes(HOSTS_PATH, b"# a comment line\r\n" * 600_000)
    return fake


def policy_invalid() -> FakeHost:
    """A cached policy whose registry name is not valid (its hash matches); a VM without disk."""
    fake = _cached(FakeHost())
    fake.vms.append(FakeVM("DockerDesktopVM"))
    document = json.loads(fake.fs.read_bytes(POLICY_FILE))
    document["policy"] = document["policy"].replace("docker.io", "*.example")
    document["sha256"] = hashlib.sha256(document["policy"].encode()).hexdigest()
    fake.fs.write_bytes(POLICY_FILE, json.dumps(document).encode())
    return fake


STATES: dict[str, Callable[[], FakeHost]] = {
    f.__name__: f
    for f in (
        hyperv_off,
        vm_running,
        not_elevated,
        damaged,
        no_vm_disk_missing,
        policy_open_to_users_hosts_for_admins,
        policy_garbled_hosts_huge,
        policy_invalid,
    )
}


@pytest.mark.parametrize("state", sorted(STATES))
def test_a_seeded_twin_answers_like_the_host(
    make_backend: Callable[..., Backend], state: str
) -> None:
    real = make_backend(STATES[state]())
    report = run_conformance(real.host, transport=real.name, member=MEMBER, redact=False)
    assert report.differences == [], report.summary()
    assert report.ok
    assert {j.status for j in report.jobs} == {"match"}
    assert [n for j in report.jobs for n in j.notes] == []


@pytest.mark.parametrize("state", sorted(STATES))
def test_the_seed_is_what_makes_the_twin_agree(state: str) -> None:
    """Against an unseeded (default) twin the same answers differ: the seed did the work."""
    jobs = read_jobs(default_registry(), MEMBER)
    answers = capture(twin_host(STATES[state]()), jobs)
    default = capture(twin_host(FakeHost()), jobs)
    seeded = capture(twin_host(seed(answers).fake), jobs)
    assert any(compare(j, answers[j], default[j], []) for j in answers)
    assert not any(compare(j, answers[j], seeded[j], []) for j in answers)


@dataclass
class Diverging(FakeHost):
    """A "real" host whose answers to some scripts are patched: ``patches[name](answer)``
    gets the twin's own answer (a thunk) and returns what this host answers instead."""

    patches: dict[str, Callable[[Callable[[], Any]], Any]] = field(default_factory=dict)

    def execute(self, script: str, params: Any) -> object:
        patch = self.patches.get(script)
        if patch is None:
            return super().execute(script, params)
        return patch(lambda: super(Diverging, self).execute(script, params))


CIM_ERROR = "Microsoft.Management.Infrastructure.CimException"


def _extra_field(answer: Callable[[], Any]) -> Any:
    return {**answer(), "os_edition_id": "Professional"}


def _other_error(answer: Callable[[], Any]) -> Any:
    raise ErrorRecord("Access denied", "AccessDenied,BcdStore", "SecurityError", "", CIM_ERROR)


def _other_disk_path(answer: Callable[[], Any]) -> Any:
    document = answer()
    document["vm"]["result"]["vm"]["vhd_path"] = r"C:\Users\jdoe\AppData\Local\Docker\disk.vhdx"
    return document


def _over_winrm(fake: FakeHost, **options: Any) -> Any:
    endpoint = shared_endpoint("basic")
    endpoint.fake = fake
    with connect(**endpoint.connect_options()) as host:
        return run_conformance(host, transport="WinRM", member=MEMBER, **options)


def test_the_kit_reports_exactly_the_real_side_s_differences() -> None:
    fake = Diverging(
        patches={
            "version": _extra_field,
            "bootloader_status": _other_error,
            "health": _other_disk_path,
        }
    )
    fake.caller.elevated = False  # the twin's bootloader_status fails too (not elevated)
    fake.caller.groups.add("S-1-5-32-578")  # Hyper-V Administrators: Get-VM answers
    fake.vms.append(FakeVM("DockerDesktopVM", vhd_path=r"C:\ProgramData\Docker\disk.vhdx"))
    report = _over_winrm(fake, redact=False)
    found = {(d.job, d.kind, d.path, d.real, d.twin) for d in report.differences}
    assert found == {
        ("version", "shape", "$.os_edition_id", "string", "missing"),
        (
            "bootloader_status",
            "error_id",
            "$",
            "AccessDenied,BcdStore",
            "DdpermElevationRequired",
        ),
        ("bootloader_status", "category", "$", "SecurityError", "PermissionDenied"),
        ("bootloader_status", "exception_type", "$", CIM_ERROR, "System.InvalidOperationException"),
        (
            "health",
            "value",
            "$.vm.result.vm.vhd_path",
            r'"C:\\Users\\jdoe\\AppData\\Local\\Docker\\disk.vhdx"',
            r'"C:\\ProgramData\\Docker\\disk.vhdx"',
        ),
    }
    assert not report.ok
    assert {j.job for j in report.jobs if j.status == "differs"} == {
        "version",
        "bootloader_status",
        "health",
    }
    assert "version: shape $.os_edition_id: real string, twin missing" in report.summary()


def test_a_powershell_7_answer_seeds_the_core_edition() -> None:
    def core(answer: Callable[[], Any]) -> Any:
        return {**answer(), "powershell_edition": "Core", "powershell_version": "7.4.6"}

    report = _over_winrm(Diverging(patches={"version": core}), redact=False)
    assert report.host.powershell_edition == "Core"
    assert report.differences == []
    version = next(j for j in report.jobs if j.job == "version")
    assert version.notes == []


def test_an_unseedable_answer_is_a_note_and_its_values_are_not_compared() -> None:
    """An edition the twin does not model is noted, not compared."""

    def unknown(answer: Callable[[], Any]) -> Any:
        return {**answer(), "powershell_edition": "Nano"}

    report = _over_winrm(Diverging(patches={"version": unknown}), redact=False)
    assert report.differences == []
    version = next(j for j in report.jobs if j.job == "version")
    assert [(n.path, n.reason) for n in version.notes] == [
        ("$.powershell_edition", "the twin models the Desktop and Core editions, not 'Nano'")
    ]
    assert "Not seeded" in report.summary()


def test_an_answer_missing_a_promised_field_is_reported_not_a_crash() -> None:
    def without_name(answer: Callable[[], Any]) -> Any:
        return {k: v for k, v in answer().items() if k != "computer_name"}

    report = _over_winrm(Diverging(patches={"version": without_name}), redact=False)
    assert [(d.job, d.kind, d.path, d.real, d.twin) for d in report.differences] == [
        ("version", "shape", "$.computer_name", "missing", "string")
    ]
    version = next(j for j in report.jobs if j.job == "version")
    assert [(n.path, n.reason.split(" (")[0]) for n in version.notes] == [
        ("$", "the seed could not use the answer")
    ]


SECRETS = ("ACME-WKS-7731", "jdoe", "ACMECORP", "1004336348")


def _leaky() -> Diverging:
    """Names, a SID and a profile path in an error message and in a differing value."""

    def refuse(answer: Callable[[], Any]) -> Any:
        raise ErrorRecord(
            r"ACMECORP\jdoe (S-1-5-21-1004336348-1177238915-682003330-1105) may not read "
            r"C:\Users\jdoe\ntuser.dat on ACME-WKS-7731.",
            "DdpermBootState",
            "PermissionDenied",
        )

    fake = Diverging(patches={"boot_state": refuse, "health": _other_disk_path})
    fake.os.computer_name = "ACME-WKS-7731"
    fake.accounts[r"ACMECORP\jdoe"] = "S-1-5-21-1004336348-1177238915-682003330-1105"
    fake.vms.append(FakeVM("DockerDesktopVM"))
    return fake


def test_redaction_leaves_no_name_sid_domain_or_profile_in_the_report() -> None:
    report = _over_winrm(_leaky(), names=[r"ACMECORP\jdoe"])
    text = report.to_json()
    assert report.redacted
    for secret in SECRETS:
        assert secret.lower() not in text.lower()
    assert "<computer>" in text and "<user>" in text and "<domain>" in text
    assert "S-1-5-21-<domain>-1105" in text
    assert shared_endpoint("basic").password not in text


def test_without_redaction_the_same_report_names_them() -> None:
    text = _over_winrm(_leaky(), redact=False).to_json()
    for secret in SECRETS:
        assert secret in text


def test_the_jobs_are_exactly_the_read_scripts_and_write_scripts_never_run() -> None:
    registry = default_registry()
    jobs = read_jobs(registry, MEMBER)
    kinds = {name: registry.get(name).kind for name in registry.names()}
    assert {j.script for j in jobs} == {n for n, k in kinds.items() if k is ScriptKind.READ}
    assert all(j.skipped is None for j in jobs)
    fake = FakeHost()
    run_conformance(twin_host(fake), transport="twin", member=MEMBER)
    assert {name for name, _ in fake.calls} <= {j.script for j in jobs}
    assert "vm_start" in kinds and "vm_start" not in {n for n, _ in fake.calls}


def test_without_a_member_docker_users_is_skipped_with_the_reason() -> None:
    report = run_conformance(twin_host(FakeHost()), transport="twin")
    skipped = {j.job: j.reason for j in report.jobs if j.status == "skipped"}
    assert list(skipped) == ["docker_users_status"]
    assert "--member" in skipped["docker_users_status"]
    assert report.ok


def test_a_new_read_script_the_twin_does_not_model_is_a_difference(tmp_path: Path) -> None:
    root = tmp_path / "ps_scripts"
    root.mkdir()
    for source in script_root().rglob("*.ps1"):
        target = root / source.relative_to(script_root())
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(source.read_bytes())
    (root / "uptime_status.ps1").write_text(
        "# ddperm-kind: read\n# Reports uptime.\n[CmdletBinding()]\nparam()\n'{}'\n"
    )
    assert scripts_main(["--root", str(root), "--write-manifest"]) == 0
    registry = ScriptRegistry(root)
    report = run_conformance(twin_host(FakeHost(), registry=registry), transport="twin")
    assert [(d.job, d.kind) for d in report.differences] == [("uptime_status", "not_modelled")]
    assert not report.ok


def test_a_host_that_answers_nothing_is_a_transport_error() -> None:
    endpoint = shared_endpoint("basic")
    options = endpoint.connect_options() | {"port": 1, "retry": NO_RETRY}
    with connect(**options) as host, pytest.raises(TransportError):
        run_conformance(host, transport="WinRM", member=MEMBER)
