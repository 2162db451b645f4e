"""host.vhd contract tests: size, and moves that never lose the disk."""

from __future__ import annotations

import copy

import pytest

from ddperm.components.vm import DEFAULT_DATA_FOLDER
from ddperm.errors import HostError, PolicyError
from ddperm.testing import FakeHost
from ddperm.testing.fs import USERS
from ddperm.testing.jobs.hyperv import seed_checkpoint, seed_docker_vm
from tests.backends import Backend

DISK = DEFAULT_DATA_FOLDER + r"\DockerDesktop.vhdx"
GIB = 2**30


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return backend.fake


def _snapshot(fake: FakeHost) -> tuple[object, ...]:
    files = sorted(
        (st.path, st.size) for drive in fake.fs.volumes for st in fake.fs.walk(drive + "\\")
    )
    return copy.deepcopy((fake.vms, fake.vhds, files, dict(fake.fs.free)))


def test_size_reports_virtual_file_and_minimum_size(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, virtual_size=64 * GIB, file_size=1_849_688_064)
    fake.vhds[DISK.lower()].minimum_size = 64 * GIB
    size = backend.host.vhd.size()
    assert (size.path, size.format, size.type) == (DISK, "VHDX", "Dynamic")
    assert (size.virtual_size, size.file_size, size.minimum_size) == (
        64 * GIB,
        1_849_688_064,
        64 * GIB,
    )
    assert (size.block_size, size.logical_sector_size, size.physical_sector_size) == (
        33_554_432,
        512,
        4096,
    )
    assert not size.attached


def test_size_of_a_vm_without_a_disk_is_an_error(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake).vhd_path = ""
    with pytest.raises(HostError) as info:
        backend.host.vhd.size()
    assert info.value.fully_qualified_error_id == "DdpermVMDiskCount"


def test_size_of_a_missing_disk_file_is_get_vhds_error(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    with pytest.raises(HostError) as info:
        backend.host.vhd.size()
    assert info.value.fully_qualified_error_id == (
        "ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD"
    )


def test_size_of_a_disk_linked_to_a_network_share_is_get_vhds_error(backend: Backend) -> None:
    """The twin has no network: a link to a UNC path answers like an unreachable share
    (issue 11, #10: it was an internal error)."""
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    fake.fs.symlink(DISK, r"\\fileserver\share\DockerDesktop.vhdx")
    with pytest.raises(HostError) as info:
        backend.host.vhd.size()
    assert info.value.fully_qualified_error_id == (
        "ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD"
    )


# -- moves that work -------------------------------------------------------------------


def test_move_to_a_folder_on_the_same_volume_renames(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, file_size=12345)
    moved = backend.host.vhd.move(r"C:\Docker\disks")
    target = r"C:\Docker\disks\DockerDesktop.vhdx"
    assert (moved.source, moved.destination, moved.method) == (DISK, target, "rename")
    assert moved.vm.vhd_path == target
    assert fake.vms[0].vhd_path == target
    assert not fake.fs.exists(DISK)
    assert fake.fs.stat(target).size == 12345
    assert backend.host.vhd.size().path == target


def test_a_renamed_disk_takes_the_destination_acl_not_the_source_acl(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.set_acl(DISK, {USERS: "FullControl"})  # a user-controlled ACL on the source
    target = r"C:\ProgramData\DockerDesktop\moved\DockerDesktop.vhdx"
    backend.host.vhd.move(target)
    assert fake.fs.acl(target) == fake.fs.acl(r"C:\ProgramData\DockerDesktop\moved")
    assert fake.fs.acl(target).get(USERS) != "FullControl"


def test_move_to_a_vhdx_path_keeps_that_name(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    moved = backend.host.vhd.move(r"C:\Docker\docker-data.vhdx")
    assert moved.destination == r"C:\Docker\docker-data.vhdx"
    assert fake.fs.exists(r"C:\Docker\docker-data.vhdx")


def test_move_across_volumes_copies_verifies_and_deletes(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.add_volume("D:", free_bytes=10 * GIB)
    seed_docker_vm(fake, file_size=3 * GIB)
    moved = backend.host.vhd.move("D:/Docker")
    target = r"D:\Docker\DockerDesktop.vhdx"
    assert (moved.method, moved.destination, fake.vms[0].vhd_path) == ("copy", target, target)
    assert not fake.fs.exists(DISK)
    assert fake.fs.stat(target).size == 3 * GIB
    assert fake.fs.free["D:"] == 7 * GIB
    size = backend.host.vhd.size()
    assert (size.path, size.file_size) == (target, 3 * GIB)


def test_move_to_where_it_already_is_changes_nothing(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    before = _snapshot(fake)
    moved = backend.host.vhd.move(DEFAULT_DATA_FOLDER.lower())
    assert moved.method == "none"
    assert _snapshot(fake) == before


# -- refusals and failures: the original is never lost ---------------------------------


def test_moving_a_disk_whose_file_is_gone_is_an_error(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"C:\Docker")
    assert info.value.error_id == "PathNotFound"
    assert not fake.fs.exists(r"C:\Docker")


def test_moving_the_disk_of_a_running_vm_is_refused(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state="Running")
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"C:\Docker")
    assert info.value.fully_qualified_error_id == "DdpermVMNotOff"
    assert "Running" in info.value.message
    assert _snapshot(fake) == before


def test_move_never_overwrites_the_destination(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.write_bytes(r"C:\Docker\DockerDesktop.vhdx", b"other")
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"C:\Docker")
    assert info.value.fully_qualified_error_id == "DdpermDestinationExists"
    assert _snapshot(fake) == before


@pytest.mark.parametrize("destination", [r"C:\Docker\new", r"D:\Docker\new"])
def test_a_locked_disk_is_not_moved_and_nothing_is_left_behind(
    backend: Backend, destination: str
) -> None:
    fake = _fake(backend)
    fake.fs.add_volume("D:")
    seed_docker_vm(fake)
    fake.fs.file_data(DISK).locked = True
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(destination)
    assert "being used by another process" in info.value.message
    assert info.value.exception_type == "System.IO.IOException"
    assert _snapshot(fake) == before
    assert not fake.fs.exists(r"C:\Docker")
    assert not fake.fs.exists(r"D:\Docker")


def test_a_full_destination_disk_rolls_back(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.add_volume("D:", free_bytes=GIB)
    seed_docker_vm(fake, file_size=2 * GIB)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"D:\Docker\vm")
    assert info.value.message == "There is not enough space on the disk."
    assert _snapshot(fake) == before
    assert not fake.fs.exists(r"D:\Docker")


def test_a_failed_delete_of_the_original_undoes_the_copy(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.add_volume("D:")
    seed_docker_vm(fake)
    fake.fs.file_data(DISK).readonly = True  # the copy succeeds, deleting the original not
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"D:\Docker")
    assert info.value.category == "PermissionDenied"
    assert _snapshot(fake) == before  # VM points at the original, the copy is gone
    assert fake.vms[0].vhd_path == DISK


@pytest.mark.parametrize(
    "destination",
    [
        "Docker\\disks",
        r"\\server\share\Docker",
        r"\\?\C:\Docker",
        r"C:\Windows\Temp",
        r"C:\Program Files\Docker",
        r"C:\Docker\..\Windows",
        r"C:\Docker\disk.vhdx:evil",
        r"C:\PROGRA~1\Docker",
        "C:\\Docker\\\x00",
        "C:\\",
        "",
        5,
        None,
    ],
)
def test_bad_destinations_are_refused_before_anything_runs(
    twin: Backend, destination: object
) -> None:
    fake = _fake(twin)
    seed_docker_vm(fake)
    with pytest.raises(PolicyError):
        twin.host.vhd.move(destination)  # type: ignore[arg-type]
    assert fake.calls == []


@pytest.mark.parametrize("destination", [r"C:\dd\moved", r"C:\dd\moved\DockerDesktop.vhdx"])
def test_move_of_a_disk_with_a_checkpoint_is_refused(backend: Backend, destination: str) -> None:
    # The VM's current disk is the checkpoint's .avhdx: moving it alone leaves the data
    # (DockerDesktop.vhdx, its parent) behind.
    fake = _fake(backend)
    vm = seed_docker_vm(fake)
    seed_checkpoint(fake, vm)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(destination)
    assert info.value.fully_qualified_error_id == "DdpermVMHasCheckpoints"
    assert _snapshot(fake) == before
    assert not fake.fs.exists(r"C:\dd")


# -- the disk is the user's whole Linux file system: nobody else may read it (issue 11, #3) ----


def test_a_move_into_a_folder_users_can_read_is_refused(backend: Backend) -> None:
    """ddperm's own policy folder is admin-owned but lets Users read: the moved VHDX would
    inherit that and every local user could read the VM's disk."""
    fake = _fake(backend)
    seed_docker_vm(fake)
    readable = r"C:\ProgramData\ddperm"
    fake.fs.mkdir(readable, acl="O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)")
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(readable)
    assert info.value.error_id == "DdpermUnsafeAcl"
    assert "read" in info.value.message
    assert fake.fs.exists(DISK)


def test_a_move_into_a_folder_only_administrators_can_read_works(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    private = r"C:\ProgramData\DockerVault"
    fake.fs.mkdir(private, acl="O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
    moved = backend.host.vhd.move(private)
    assert fake.fs.exists(private + r"\DockerDesktop.vhdx")
    assert moved is not None
