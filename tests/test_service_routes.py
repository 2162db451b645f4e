"""Every job through the service, and the Docker Desktop CVE classes replayed against it."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ddperm.errors import HostError
from ddperm.service import AuditLog, Service
from ddperm.service.client import ServiceError
from ddperm.service.framing import encode_frame
from ddperm.service.peer import Peer
from ddperm.testing import CONTAINERS_DATA_ROOT, DEFAULT_DATA_FOLDER, FakeHost, twin_host
from ddperm.testing.jobs.hyperv import seed_docker_vm
from tests.test_service_helpers import Running, serve_twin

SYSTEM32 = r"C:\Windows\System32"
VICTIM = SYSTEM32 + r"\ualapi.dll"
DISK = DEFAULT_DATA_FOLDER + r"\DockerDesktop.vhdx"
POLICY = {
    "organization": "acme",
    "allowed_registries": ["registry.acme.example", "docker.io"],
    "fetched_at": "2026-11-01T08:00:00Z",
}


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Running]:
    with serve_twin(tmp_path) as running:
        running.fake.fs.mkdir(SYSTEM32)
        running.fake.fs.write_bytes(VICTIM, b"MZ system dll")
        yield running


def refused(svc: Running, route: str, params: dict[str, object]) -> ServiceError:
    with svc.client() as client, pytest.raises(ServiceError) as caught:
        client.request(route, params)
    return caught.value


def host_refusal(svc: Running, route: str, params: dict[str, object] | None = None) -> str:
    with svc.client() as client, pytest.raises(HostError) as caught:
        client.request(route, params)
    return caught.value.fully_qualified_error_id


# -- the jobs work ----------------------------------------------------------------------------


def test_the_vm_lifecycle_through_the_service(svc: Running) -> None:
    with svc.client() as client:
        assert client.request("vm.info") == {"vm": None}
        created = client.request("vm.create", {"cpus": 4, "memory_bytes": 4 * 2**30})
        assert (created["name"], created["processor_count"]) == ("DockerDesktopVM", 4)
        assert created["vhd_path"] == DISK
        assert client.request("vm.start")["vm"]["state"] == "Running"
        assert client.request("vhd.size")["path"] == DISK
        stopped = client.request("vm.stop", {"force": True, "timeout": 5})
        assert stopped["vm"]["state"] == "Off"
        assert client.request("vm.destroy")["existed"] is True
    assert svc.fake.vms == []
    assert not svc.fake.fs.exists(DISK)


@pytest.mark.parametrize(
    "route", ["vm.info", "vhd.size", "hosts_file.status", "policy.status", "hyperv.status"]
)
def test_read_routes_answer_what_the_library_answers(svc: Running, route: str) -> None:
    seed_docker_vm(svc.fake)
    with svc.client() as client:
        answer = client.call(route)
    host = twin_host(svc.fake)
    family, _, method = route.partition(".")
    expected = getattr(getattr(host, family), method)()
    if route == "vm.info":
        expected = {"vm": expected.model_dump(mode="json")}
        answer = answer.model_dump(mode="json")
    assert answer == expected


def test_the_hosts_entry_is_ensured(svc: Running) -> None:
    with svc.client() as client:
        assert client.request("hosts_file.ensure")["changed"] is True
        assert client.request("hosts_file.ensure")["changed"] is False
        assert client.request("hosts_file.status")["in_sync"] is True


def test_root_caches_a_policy_and_anyone_in_the_group_reads_it(svc: Running) -> None:
    with svc.client() as client:
        cached = client.request("policy.cache", {"policy": POLICY})
        assert client.request("policy.read") == cached
    assert cached["allowed_registries"] == POLICY["allowed_registries"]


def test_a_group_member_cannot_write_the_policy(tmp_path: Path) -> None:
    """The developer may read the RAM policy, never replace it (docs; CVE-2025-4095)."""
    fake = FakeHost()
    member = Peer(user="dev", user_id="1000", groups=("docker-users",), group_ids=("999",))
    with twin_host(fake) as host:
        audit = io.StringIO()
        answer = Service(host, AuditLog(audit)).handle(
            json.dumps({"route": "policy.cache", "params": {"policy": POLICY}}).encode(), member
        )
    assert answer.error is not None
    assert answer.error.code == "forbidden"
    assert fake.calls == []
    assert json.loads(audit.getvalue())["outcome"] == "forbidden"


# -- CVE classes ------------------------------------------------------------------------------


def test_create_refuses_a_data_folder_that_is_a_junction(svc: Running) -> None:
    """CVE-2022-34292: vmms.exe creates the VHDX wherever the data folder points."""
    svc.fake.fs.remove(DEFAULT_DATA_FOLDER)
    svc.fake.fs.junction(DEFAULT_DATA_FOLDER, SYSTEM32)
    before = sorted(svc.fake.fs.listdir(SYSTEM32))
    assert host_refusal(svc, "vm.create") == "DdpermReparsePoint"
    assert sorted(svc.fake.fs.listdir(SYSTEM32)) == before
    assert svc.fake.vms == []


@pytest.mark.parametrize("field", ["data_folder", "DataFolder", "vm_name", "name", "path"])
def test_create_takes_no_folder_and_no_name(svc: Running, field: str) -> None:
    error = refused(svc, "vm.create", {field: SYSTEM32})
    assert error.code == "bad_request"
    assert svc.fake.calls == []


@pytest.mark.parametrize(
    "params",
    [{"cpus": 0}, {"cpus": "4"}, {"cpus": 4.0}, {"cpus": True}, {"memory_bytes": 3 * 2**20}],
)
def test_create_sizes_are_validated_before_anything_runs(svc: Running, params: dict) -> None:
    assert refused(svc, "vm.create", params).code == "bad_request"
    assert svc.fake.calls == []


def test_destroy_refuses_a_data_folder_that_became_a_junction(svc: Running) -> None:
    """CVE-2022-31647: destroy deleted DataFolder\\DockerDesktop.vhdx through a junction."""
    seed_docker_vm(svc.fake)
    svc.fake.fs.remove(DISK)
    svc.fake.fs.remove(DEFAULT_DATA_FOLDER)
    svc.fake.fs.write_bytes(SYSTEM32 + r"\DockerDesktop.vhdx", b"victim")
    svc.fake.fs.junction(DEFAULT_DATA_FOLDER, SYSTEM32)
    assert host_refusal(svc, "vm.destroy") == "DdpermReparsePoint"
    assert svc.fake.fs.read_bytes(SYSTEM32 + r"\DockerDesktop.vhdx") == b"victim"
    assert len(svc.fake.vms) == 1


def test_move_refuses_a_destination_that_is_a_junction(svc: Running) -> None:
    """CVE-2022-23774 / CVE-2022-25365: the string passes, the junction does not."""
    seed_docker_vm(svc.fake)
    svc.fake.fs.junction(r"C:\Docker", SYSTEM32)
    before = sorted(svc.fake.fs.listdir(SYSTEM32))
    assert host_refusal(svc, "vhd.move", {"destination": r"C:\Docker\vm"}) == "DdpermReparsePoint"
    assert sorted(svc.fake.fs.listdir(SYSTEM32)) == before
    assert svc.fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert svc.fake.vms[0].vhd_path == DISK


def test_move_to_a_plain_folder_works(svc: Running) -> None:
    seed_docker_vm(svc.fake)
    with svc.client() as client:
        moved = client.request("vhd.move", {"destination": r"C:\Docker"})
    assert moved["destination"] == r"C:\Docker\DockerDesktop.vhdx"
    assert svc.fake.fs.exists(r"C:\Docker\DockerDesktop.vhdx")


@pytest.mark.parametrize(
    "destination",
    [
        SYSTEM32,
        r"C:\Windows",
        r"c:/program files/Docker",
        r"\\?\C:\Docker",
        r"\\.\GLOBALROOT\Device\HarddiskVolume1\Docker",
        r"\\attacker\share\Docker",
        r"C:\Config.Msi::$INDEX_ALLOCATION",
        r"C:\Docker\DockerDesktop.vhdx:evil",
        r"C:\Docker\..\Windows\System32",
        r"Docker",
        r"C:\PROGRA~1\Docker",
        r"C:\Docker\NUL",
        "",
        5,
        None,
        [r"C:\Docker"],
        {"path": r"C:\Docker"},
    ],
)
def test_move_destinations_are_checked_before_anything_runs(
    svc: Running, destination: object
) -> None:
    """Path policy and alternate data streams (CyberArk part 2: Config.Msi::$INDEX_ALLOCATION)."""
    seed_docker_vm(svc.fake)
    assert refused(svc, "vhd.move", {"destination": destination}).code == "bad_request"
    assert svc.fake.calls == []
    assert svc.fake.fs.exists(DISK)


@pytest.mark.parametrize("params", [{}, {"confirm": False}, {"confirm": 1}, {"confirm": "true"}])
def test_deleting_windows_containers_data_needs_an_explicit_true(
    svc: Running, params: dict[str, object]
) -> None:
    svc.fake.fs.write_bytes(CONTAINERS_DATA_ROOT + r"\image.tar", b"layer")
    assert refused(svc, "windows_containers.delete_data", params).code == "bad_request"
    assert svc.fake.calls == []
    assert svc.fake.fs.read_bytes(CONTAINERS_DATA_ROOT + r"\image.tar") == b"layer"


def test_deleting_windows_containers_data_removes_links_not_their_targets(svc: Running) -> None:
    """Anchor 6.8: a junction inside the data root is removed as a link (svm #48, Delapp #6)."""
    svc.fake.fs.write_bytes(r"C:\Users\dev\thesis.docx", b"years of work")
    svc.fake.fs.junction(CONTAINERS_DATA_ROOT + r"\volumes\evil", r"C:\Users\dev")
    svc.fake.fs.write_bytes(CONTAINERS_DATA_ROOT + r"\image.tar", b"layer")
    with svc.client() as client:
        report = client.request("windows_containers.delete_data", {"confirm": True})
    assert report["links_removed"] == [CONTAINERS_DATA_ROOT + r"\volumes\evil"]
    assert svc.fake.fs.read_bytes(r"C:\Users\dev\thesis.docx") == b"years of work"
    assert svc.fake.fs.listdir(CONTAINERS_DATA_ROOT) == []


def test_reading_a_policy_that_was_never_cached_fails_closed(svc: Running) -> None:
    """CVE-2025-4095 was a policy silently not enforced; a missing cache is an error here."""
    assert host_refusal(svc, "policy.read") == "DdpermPolicyMissing"


def test_a_client_that_hangs_up_mid_job_leaves_the_job_whole(svc: Running) -> None:
    """A job that started runs to completion; it is never cut off half-way."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(svc.path)
    sock.sendall(encode_frame(json.dumps({"route": "vm.create"}).encode()))
    sock.close()  # gone before the answer
    for _ in range(600):  # wait (bounded) for the service to log the job's end
        if any(r["route"] == "vm.create" for r in svc.audit()):
            break
        time.sleep(0.05)
    (record,) = [r for r in svc.audit() if r["route"] == "vm.create"]
    assert record["outcome"] == "ok"
    assert [vm.name for vm in svc.fake.vms] == ["DockerDesktopVM"]
    assert svc.fake.fs.exists(DISK)
    with svc.client() as client:
        assert client.request("vm.info")["vm"]["vhd_path"] == DISK
