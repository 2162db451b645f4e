"""host.vm contract tests: lifecycle, ensure semantics per Hyper-V state, and failures."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from ddperm.components.vm import DEFAULT_DATA_FOLDER, VMSpec, VMState
from ddperm.errors import HostError, PolicyError
from ddperm.testing import FakeHost, FakeVM
from ddperm.testing.fakehost import DEFAULT_DATA_FOLDER as TWIN_DATA_FOLDER
from ddperm.testing.fakehost import HYPERV_ADMINISTRATORS, SHUTDOWN_COMPONENT
from ddperm.testing.fs import ADMINISTRATORS, USERS
from ddperm.testing.jobs.hyperv import seed_checkpoint, seed_docker_vm, stop_vm_job
from tests.backends import Backend

DISK = DEFAULT_DATA_FOLDER + r"\DockerDesktop.vhdx"
GIB = 2**30
TRANSITIONAL = ["Starting", "Stopping", "Saving", "Pausing", "Resuming", "Reset", "Other"]
TRANSITIONAL += ["FastSaving", "RunningCritical", "OffCritical"]


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return backend.fake


def _snapshot(fake: FakeHost) -> tuple[object, ...]:
    """Everything a VM job may touch, to show a refused call changed nothing."""
    files = sorted(st.path for st in fake.fs.walk("C:\\"))
    return copy.deepcopy((fake.vms, fake.vhds, files, dict(fake.fs.free)))


def test_default_data_folder_matches_the_twin() -> None:
    assert DEFAULT_DATA_FOLDER == TWIN_DATA_FOLDER


# -- info / create ---------------------------------------------------------------------


def test_info_is_none_when_the_vm_does_not_exist(backend: Backend) -> None:
    _fake(backend)  # assumes a machine without the VM
    assert backend.host.vm.info() is None


def test_info_reports_the_vm_by_state_name(backend: Backend) -> None:
    vm = seed_docker_vm(_fake(backend), state="Saved")
    info = backend.host.vm.info()
    assert info is not None
    assert (info.name, info.vm_id, info.state, info.vhd_path) == (
        "DockerDesktopVM",
        vm.vm_id,
        VMState.SAVED,
        DISK,
    )


def test_create_makes_an_off_vm_with_a_dynamic_vhdx(backend: Backend) -> None:
    fake = _fake(backend)
    spec = VMSpec(cpus=4, memory_bytes=4 * GIB, disk_size_bytes=100 * GIB)
    info = backend.host.vm.create(spec)
    assert (info.state, info.processor_count, info.memory_startup_bytes) == (
        VMState.OFF,
        4,
        4 * GIB,
    )
    assert info.vhd_path == DISK
    assert fake.fs.exists(DISK)
    size = backend.host.vhd.size()
    assert (size.virtual_size, size.format, size.type) == (100 * GIB, "VHDX", "Dynamic")
    assert backend.host.vm.info() == info


def test_create_turns_secure_boot_off_for_the_linux_kernel(backend: Backend) -> None:
    fake = _fake(backend)
    backend.host.vm.create(VMSpec())
    (vm,) = fake.vms
    assert vm.generation == 2
    assert vm.secure_boot is False


DOCKER_ISO = r"C:\Program Files\Docker\Docker\resources\docker-desktop.iso"


def _seed_iso(fake: FakeHost, path: str = DOCKER_ISO) -> str:
    fake.fs.create_sized_file(path, 500 * 2**20)
    return path


def test_create_boots_from_the_iso_first(backend: Backend) -> None:
    # Docker Desktop's VM boots its Linux from resources\docker-desktop.iso under Program
    # Files; an ISO is only read, so a system location is fine for it.
    fake = _fake(backend)
    iso = _seed_iso(fake)
    backend.host.vm.create(VMSpec(boot_iso=iso))
    (vm,) = fake.vms
    assert vm.dvd_paths == [iso]
    assert vm.boot_order == ["DvdDrive:" + iso, "HardDiskDrive:" + DISK]
    assert vm.secure_boot is False


def test_create_without_an_iso_boots_from_the_disk(backend: Backend) -> None:
    fake = _fake(backend)
    backend.host.vm.create()
    (vm,) = fake.vms
    assert (vm.dvd_paths, vm.boot_order) == ([], ["HardDiskDrive:" + DISK])


def _user_writable_iso(fake: FakeHost) -> str:
    fake.fs.mkdir(r"C:\Users\dev\Downloads")
    fake.fs.set_acl(r"C:\Users\dev\Downloads", {USERS: "Modify", ADMINISTRATORS: "FullControl"})
    return _seed_iso(fake, r"C:\Users\dev\Downloads\docker-desktop.iso")


def _iso_itself_writable(fake: FakeHost) -> str:
    iso = _seed_iso(fake)
    fake.fs.set_acl(iso, {USERS: "Write", ADMINISTRATORS: "FullControl"})
    return iso


def _iso_through_a_junction(fake: FakeHost) -> str:
    _seed_iso(fake)
    fake.fs.mkdir(r"C:\dd")
    fake.fs.junction(r"C:\dd\res", r"C:\Program Files\Docker\Docker\resources")
    return r"C:\dd\res\docker-desktop.iso"


@pytest.mark.parametrize(
    ("make_iso", "fqid"),
    [
        (_user_writable_iso, "DdpermUnsafeAcl"),
        (_iso_itself_writable, "DdpermUnsafeAcl"),
        (_iso_through_a_junction, "DdpermReparsePoint"),
        (lambda fake: DOCKER_ISO, "DdpermBootIsoNotFound"),
    ],
)
def test_create_refuses_an_iso_a_user_could_change_or_that_is_missing(
    backend: Backend, make_iso: Callable[[FakeHost], str], fqid: str
) -> None:
    fake = _fake(backend)
    iso = make_iso(fake)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(boot_iso=iso))
    assert info.value.fully_qualified_error_id == fqid
    assert _snapshot(fake) == before


@pytest.mark.parametrize(
    "iso",
    [r"C:\images\docker.img", r"C:\images\docker.iso\x", r"C:\images\..\x.iso", "x.iso"],
)
def test_a_boot_iso_the_guard_refuses_never_reaches_the_host(twin: Backend, iso: str) -> None:
    with pytest.raises((ValidationError, PolicyError)):
        twin.host.vm.create(VMSpec(boot_iso=iso))
    assert _fake(twin).calls == []


def test_create_in_a_new_folder_on_another_drive(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.add_volume("D:")
    info = backend.host.vm.create(VMSpec(data_folder="d:/Docker/vm"))
    assert info.vhd_path == r"D:\Docker\vm\DockerDesktop.vhdx"
    assert fake.fs.exists(r"D:\Docker\vm\DockerDesktop.vhdx")


def test_create_refuses_when_the_vm_exists(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create()
    assert info.value.fully_qualified_error_id == "DdpermVMExists"
    assert _snapshot(fake) == before


def test_create_never_overwrites_an_existing_disk(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(DISK, b"someone's data")
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create()
    assert info.value.fully_qualified_error_id == "DdpermDiskExists"
    assert _snapshot(fake) == before
    assert fake.fs.read_bytes(DISK) == b"someone's data"


def test_create_failing_at_set_vm_leaves_nothing_behind(backend: Backend) -> None:
    fake = _fake(backend)
    fake.logical_processors = 4  # Set-VM -ProcessorCount 8 fails after New-VHD and New-VM
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(cpus=8, data_folder=r"C:\dd\new\vm-data"))
    assert info.value.fully_qualified_error_id == (
        "OperationFailed,Microsoft.HyperV.PowerShell.Commands.SetVM"
    )
    assert "range is 1 through 4" in info.value.message
    assert _snapshot(fake) == before  # no VM, no VHDX, no folders, the space given back
    assert not fake.fs.exists(r"C:\dd")


def test_create_on_a_full_disk_leaves_nothing_behind(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.free["C:"] = 2**20
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(data_folder=r"C:\dd\vm"))
    assert info.value.error_id == "OperationFailed"
    assert "not enough space on the disk" in info.value.message
    assert _snapshot(fake) == before


@pytest.mark.parametrize(
    "spec",
    [
        {"cpus": 0},
        {"cpus": 65},
        {"cpus": "2"},
        {"cpus": True},
        {"memory_bytes": 512 * 2**20},
        {"memory_bytes": 2 * GIB + 1},
        {"memory_bytes": 257 * GIB},
        {"disk_size_bytes": 2**20},
        {"disk_size_bytes": 65 * 1024 * GIB},
        {"disk_size_bytes": 10 * GIB + 512},
        {"extra": 1},
    ],
)
def test_out_of_range_specs_are_refused_before_anything_runs(
    twin: Backend, spec: dict[str, object]
) -> None:
    fake = _fake(twin)
    with pytest.raises(ValidationError):
        twin.host.vm.create(VMSpec.model_validate(spec))
    assert fake.calls == []


@pytest.mark.parametrize(
    "fields",
    [{"cpus": 1000}, {"vm_name": "minikube"}, {"data_folder": r"C:\Windows\System32"}],
)
def test_an_unvalidated_spec_is_validated_again(twin: Backend, fields: dict[str, object]) -> None:
    spec = VMSpec.model_construct(**{**VMSpec().model_dump(), **fields})
    with pytest.raises((ValidationError, PolicyError)):
        twin.host.vm.create(spec)
    assert _fake(twin).calls == []


def test_create_takes_only_a_vmspec(twin: Backend) -> None:
    with pytest.raises(PolicyError):
        twin.host.vm.create({"cpus": 2})  # type: ignore[arg-type]
    assert _fake(twin).calls == []


# -- start / stop: ensure semantics per state ------------------------------------------


@pytest.mark.parametrize("state", ["Off", "Saved", "FastSaved", "Paused"])
def test_start_brings_the_vm_to_running(backend: Backend, state: str) -> None:
    fake = _fake(backend)
    vm = seed_docker_vm(fake, state=state)
    change = backend.host.vm.start()
    assert (change.changed, change.vm.state, vm.state) == (True, VMState.RUNNING, "Running")
    assert backend.host.vhd.size().attached


def test_start_of_a_running_vm_changes_nothing(backend: Backend) -> None:
    seed_docker_vm(_fake(backend), state="Running")
    change = backend.host.vm.start()
    assert (change.changed, change.vm.state) == (False, VMState.RUNNING)


@pytest.mark.parametrize("state", TRANSITIONAL)
def test_start_in_a_transitional_state_is_refused_by_hyperv(backend: Backend, state: str) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state=state)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.start()
    assert info.value.fully_qualified_error_id == (
        "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM"
    )
    assert info.value.category == "InvalidOperation"
    assert _snapshot(fake) == before


def test_start_without_a_running_hypervisor_fails_like_hyperv(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.hypervisor_present = False
    with pytest.raises(HostError) as info:
        backend.host.vm.start()
    assert info.value.error_id == "OperationFailed"
    assert "hypervisor is not running" in info.value.message
    assert fake.vms[0].state == "Off"


def test_start_without_enough_free_memory_fails_like_hyperv(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake).memory_startup_bytes = 4 * GIB
    fake.available_memory_bytes = 3 * GIB
    with pytest.raises(HostError) as info:
        backend.host.vm.start()
    assert info.value.error_id == "OperationFailed"
    assert "with ram size 4096 megabytes" in info.value.message
    assert fake.vms[0].state == "Off"
    fake.available_memory_bytes = 8 * GIB
    assert backend.host.vm.start().vm.state is VMState.RUNNING


def test_stop_shuts_a_running_vm_down(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state="Running")
    change = backend.host.vm.stop()
    assert (change.changed, change.forced, change.vm.state) == (True, False, VMState.OFF)
    assert not backend.host.vhd.size().attached
    assert fake.jobs == []  # Hyper-V's job is removed, not left in the session


def _no_shutdown_service(vm: FakeVM) -> None:
    vm.integration_services = [
        s for s in vm.integration_services if s.component != SHUTDOWN_COMPONENT
    ]


def _shutdown_service_disabled(vm: FakeVM) -> None:
    service = vm.integration_service(SHUTDOWN_COMPONENT)
    assert service is not None
    service.enabled = False


def _guest_not_answering(vm: FakeVM) -> None:
    service = vm.integration_service(SHUTDOWN_COMPONENT)
    assert service is not None
    service.status = "NoContact"


def _shutdown_fails(vm: FakeVM) -> None:
    vm.shutdown_error = "'DockerDesktopVM' failed to shut down. (0x80004005)"


# Without a usable Shutdown service, Stop-VM -AsJob (or -Force) answers its own "turn it off
# instead?" with yes; Hyper-V's job ends Completed even when the shutdown failed.
STOP_FAILURES = [
    (_no_shutdown_service, "DdpermShutdownUnavailable", "service is missing"),
    (_shutdown_service_disabled, "DdpermShutdownUnavailable", "enabled: False"),
    (_guest_not_answering, "DdpermShutdownUnavailable", "status: NoContact"),
    (_shutdown_fails, "DdpermShutdownFailed", "failed to shut down. (0x80004005)"),
]


@pytest.mark.parametrize(("breakage", "fqid", "reason"), STOP_FAILURES)
def test_a_vm_the_guest_does_not_shut_down_is_turned_off_only_with_force(
    backend: Backend, breakage: Callable[[FakeVM], None], fqid: str, reason: str
) -> None:
    fake = _fake(backend)
    breakage(seed_docker_vm(fake, state="Running"))
    with pytest.raises(HostError) as info:
        backend.host.vm.stop()
    assert info.value.fully_qualified_error_id == fqid
    assert reason in info.value.message and "force" in info.value.message
    assert fake.vms[0].state == "Running"
    assert fake.jobs == []
    change = backend.host.vm.stop(force=True)
    assert (change.changed, change.forced, change.vm.state) == (True, True, VMState.OFF)


@pytest.mark.parametrize("force", [False, True])
def test_the_twins_hyperv_job_is_like_windows(force: bool) -> None:
    # Hyper-V's VmJob: no child jobs, Completed even when the shutdown failed, the failure
    # only in its Error collection; -Force turns the VM off after a failed shutdown.
    fake = FakeHost()
    vm = seed_docker_vm(fake, state="Running")
    vm.shutdown_error = "'DockerDesktopVM' failed to shut down. (0x80004005)"
    job = stop_vm_job(fake, vm, force=force)
    assert (job.child_jobs, job.state, fake.jobs) == ([], "Completed", [job])
    assert [e.fqid for e in job.errors] == [
        "OperationFailed,Microsoft.HyperV.PowerShell.Commands.StopVM"
    ]
    assert vm.state == ("Off" if force else "Running")


def test_stop_finds_the_shutdown_service_by_id_whatever_the_language(backend: Backend) -> None:
    fake = _fake(backend)
    fake.os.ui_culture = "de-DE"  # the service is called "Herunterfahren" there
    seed_docker_vm(fake, state="Running")
    change = backend.host.vm.stop()
    assert (change.changed, change.forced, change.vm.state) == (True, False, VMState.OFF)


def test_stop_of_an_off_vm_changes_nothing(backend: Backend) -> None:
    seed_docker_vm(_fake(backend))
    change = backend.host.vm.stop(force=True)
    assert (change.changed, change.forced, change.vm.state) == (False, False, VMState.OFF)


def test_stop_of_a_hanging_vm_needs_force(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state="Running").hangs_on_shutdown = True
    with pytest.raises(HostError) as info:
        backend.host.vm.stop(timeout=5)
    assert info.value.fully_qualified_error_id == "DdpermShutdownTimeout"
    assert "within 5 seconds" in info.value.message
    assert "force" in info.value.message
    assert fake.vms[0].state == "Running"
    # The unfinished Hyper-V job is left to finish: removing it would dispose it under
    # Hyper-V's worker thread (Job.SetJobState then throws ObjectDisposedException there).
    assert [job.state for job in fake.jobs] == ["Running"]
    # Force cannot help while the guest is still in the shutdown it accepted: Hyper-V
    # refuses every other state change then (eryph-org/eryph e2e test: Stop-VM -TurnOff
    # throws while Stop-VM -Force -AsJob is pending).
    with pytest.raises(HostError) as info:
        backend.host.vm.stop(force=True, timeout=5)
    assert info.value.fully_qualified_error_id == "DdpermTurnOffRefused"
    assert "still shutting down" in info.value.message
    assert fake.vms[0].state == "Running"
    assert {job.state for job in fake.jobs} == {"Running"}


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_stop_of_a_saved_or_paused_vm_discards_its_state_only_with_force(
    backend: Backend, state: str
) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state=state)
    with pytest.raises(HostError) as info:
        backend.host.vm.stop()
    assert info.value.fully_qualified_error_id == "DdpermStopNeedsForce"
    assert fake.vms[0].state == state
    change = backend.host.vm.stop(force=True)
    assert (change.changed, change.forced, change.vm.state) == (True, True, VMState.OFF)


@pytest.mark.parametrize("state", TRANSITIONAL)
def test_stop_in_any_other_state_is_refused_before_hyperv_is_asked(
    backend: Backend, state: str
) -> None:
    """Stop-VM in a transitional or critical state is undocumented, and a synchronous guest
    shutdown would have no deadline: vm_stop refuses without calling it (review finding)."""
    fake = _fake(backend)
    seed_docker_vm(fake, state=state)
    with pytest.raises(HostError) as info:
        backend.host.vm.stop(force=True)
    assert info.value.fully_qualified_error_id == "DdpermVMBusy"
    assert info.value.category == "ResourceBusy"
    assert fake.vms[0].state == state


@pytest.mark.parametrize(
    "kwargs",
    [{"force": "yes"}, {"force": 1}, {"timeout": 0}, {"timeout": 601}, {"timeout": 2.5}],
)
def test_stop_refuses_bad_arguments_before_anything_runs(
    twin: Backend, kwargs: dict[str, object]
) -> None:
    with pytest.raises(PolicyError):
        twin.host.vm.stop(**kwargs)  # type: ignore[arg-type]
    assert _fake(twin).calls == []


# -- destroy ---------------------------------------------------------------------------


def test_destroy_removes_the_vm_and_its_disk(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    done = backend.host.vm.destroy()
    assert (done.existed, done.deleted_files, done.kept_files) == (True, [DISK], [])
    assert fake.vms == []
    assert fake.vhds == {}
    assert not fake.fs.exists(DISK)
    assert fake.fs.exists(DEFAULT_DATA_FOLDER)
    assert backend.host.vm.info() is None


def test_destroy_when_absent_is_a_no_op(backend: Backend) -> None:
    _fake(backend)  # assumes a machine without the VM
    done = backend.host.vm.destroy()
    assert (done.existed, done.deleted_files) == (False, [])


def test_destroy_keeps_a_disk_that_is_not_dockers(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.create_sized_file(r"C:\VMs\mine.vhdx", 10)
    fake.vms.append(FakeVM("DockerDesktopVM", vhd_path=r"C:\VMs\mine.vhdx"))
    done = backend.host.vm.destroy()
    assert (done.deleted_files, done.kept_files) == ([], [r"C:\VMs\mine.vhdx"])
    assert fake.fs.exists(r"C:\VMs\mine.vhdx")
    assert fake.vms == []


def test_destroy_deletes_its_disk_whatever_the_case_of_the_name(backend: Backend) -> None:
    """vm_destroy.ps1 compares the file name with -eq, which ignores case (issue 11, #10)."""
    fake = _fake(backend)
    shouting = DEFAULT_DATA_FOLDER + r"\dockerdesktop.VHDX"
    fake.fs.create_sized_file(shouting, 10)
    fake.vms.append(FakeVM("DockerDesktopVM", vhd_path=shouting))
    done = backend.host.vm.destroy()
    assert (done.deleted_files, done.kept_files) == ([shouting], [])
    assert not fake.fs.exists(shouting)


def test_destroy_of_a_vm_with_a_checkpoint_is_refused(backend: Backend) -> None:
    # Its current disk is a differencing .avhdx over DockerDesktop.vhdx: destroying would
    # delete neither and orphan the chain.
    fake = _fake(backend)
    vm = seed_docker_vm(fake)
    avhdx = seed_checkpoint(fake, vm)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert info.value.fully_qualified_error_id == "DdpermVMHasCheckpoints"
    assert "Before update" in info.value.message
    assert _snapshot(fake) == before
    assert fake.fs.exists(avhdx) and fake.fs.exists(DISK)


def test_destroy_of_a_vm_on_a_lingering_differencing_disk_is_refused(backend: Backend) -> None:
    # A checkpoint whose merge failed leaves the .avhdx as the disk with no checkpoint object.
    fake = _fake(backend)
    vm = seed_docker_vm(fake)
    avhdx = seed_checkpoint(fake, vm)
    vm.checkpoints.clear()
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert info.value.fully_qualified_error_id == "DdpermVMHasCheckpoints"
    assert avhdx in info.value.message and DISK in info.value.message
    assert _snapshot(fake) == before


def test_destroy_of_a_running_vm_is_refused(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state="Running")
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert info.value.fully_qualified_error_id == "DdpermVMNotOff"
    assert _snapshot(fake) == before


def test_destroy_reports_a_locked_disk_after_removing_the_vm(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.fs.file_data(DISK).locked = True
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert info.value.exception_type == "System.IO.IOException"
    assert fake.fs.exists(DISK)


# -- Hyper-V failure modes -------------------------------------------------------------

OPS: dict[str, Callable[[Backend], object]] = {
    "info": lambda b: b.host.vm.info(),
    "start": lambda b: b.host.vm.start(),
    "stop": lambda b: b.host.vm.stop(),
    "destroy": lambda b: b.host.vm.destroy(),
    "size": lambda b: b.host.vhd.size(),
    "move": lambda b: b.host.vhd.move(r"C:\elsewhere"),
    "create": lambda b: b.host.vm.create(),
}


@pytest.mark.parametrize("op", ["start", "stop", "size", "move"])
def test_a_missing_vm_is_the_real_not_found_error(backend: Backend, op: str) -> None:
    _fake(backend)  # assumes a machine without the VM
    with pytest.raises(HostError) as info:
        OPS[op](backend)
    assert info.value.fully_qualified_error_id == (
        "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
    )
    assert info.value.message == (
        'Hyper-V was unable to find a virtual machine with name "DockerDesktopVM".'
    )


@pytest.mark.parametrize("op", sorted(OPS))
def test_duplicate_vm_names_are_refused(backend: Backend, op: str) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.vms.append(FakeVM("DockerDesktopVM"))
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        OPS[op](backend)
    assert info.value.fully_qualified_error_id == "DdpermDuplicateVM"
    assert _snapshot(fake) == before


def test_a_vm_whose_name_differs_in_case_is_not_ours(backend: Backend) -> None:
    fake = _fake(backend)
    fake.vms.append(FakeVM("dockerdesktopvm", state="Running"))
    with pytest.raises(HostError) as info:
        backend.host.vm.stop(force=True)
    assert info.value.fully_qualified_error_id == "DdpermVMNameMismatch"
    assert fake.vms[0].state == "Running"


def _not_elevated(fake: FakeHost) -> None:
    fake.caller.elevated = False


def _no_module(fake: FakeHost) -> None:
    fake.features["Microsoft-Hyper-V-Management-PowerShell"] = "Disabled"


def _vmms_stopped(fake: FakeHost) -> None:
    fake.services["vmms"].status = "Stopped"


def _hyperv_disabled(fake: FakeHost) -> None:
    fake.features["Microsoft-Hyper-V"] = "Disabled"  # management tools alone: no VMMS


DENIED = "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVM"
BREAKAGES = [(_not_elevated, DENIED, op) for op in sorted(OPS)]  # every script, one cause
BREAKAGES += [(_vmms_stopped, DENIED, op) for op in ("create", "info", "move")]
BREAKAGES += [(_hyperv_disabled, DENIED, op) for op in ("info", "start")]
BREAKAGES += [(_no_module, "CommandNotFoundException", op) for op in ("destroy", "stop")]


@pytest.mark.parametrize(("breakage", "fqid", "op"), BREAKAGES)
def test_hyperv_unavailable_or_denied_is_the_real_error(
    backend: Backend, breakage: Callable[[FakeHost], None], fqid: str, op: str
) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    breakage(fake)
    before = _snapshot(fake)
    with pytest.raises(HostError) as info:
        OPS[op](backend)
    assert info.value.fully_qualified_error_id == fqid
    assert _snapshot(fake) == before


def test_hyperv_administrators_need_no_elevation(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.caller.elevated = False
    fake.caller.groups = {HYPERV_ADMINISTRATORS}
    assert backend.host.vm.start().changed
    fake.caller.groups = {ADMINISTRATORS}  # an admin, but not elevated: denied
    with pytest.raises(HostError, match="Run as Administrator"):
        backend.host.vm.info()


def test_not_found_text_is_localised_but_its_id_is_not(backend: Backend) -> None:
    _fake(backend).os.ui_culture = "es-ES"
    with pytest.raises(HostError) as info:
        backend.host.vm.start()
    assert info.value.message.startswith("Hyper-V no pudo encontrar una máquina virtual")
    assert info.value.error_id == "InvalidParameter"
