"""The VM pin and the path re-check, attacked on purpose (CVE-2022-25365, -31647, -34292)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel

from ddperm.components.vm import VMSpec
from ddperm.errors import HostError, PolicyError
from ddperm.guard import VM_NAME, check_path, pin_vm_name
from ddperm.scripts import ScriptRegistry, script_root
from ddperm.testing import ErrorRecord, FakeFileSystem, FakeHost, FakeVM, twin_host
from ddperm.testing.fakehost import DOCKER_DESKTOP_FOLDER, PROGRAMDATA_SDDL, Caller
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM
from ddperm.testing.jobs.hyperv import assert_safe_path, seed_docker_vm
from tests import vetting
from tests.backends import Backend
from tests.test_path_parity import snapshot

VM_SCRIPTS = ["vm_info", "vm_create", "vm_start", "vm_stop", "vm_destroy", "vhd_size", "vhd_move"]

DATA = r"C:\ProgramData\DockerDesktop\vm-data"


def _fqid(fs: FakeFileSystem, path: str) -> str:
    with pytest.raises(ErrorRecord) as info:
        assert_safe_path(fs, path)
    return info.value.fqid


def test_safe_path_accepts_plain_folders_existing_or_not() -> None:
    fs = FakeFileSystem()
    fs.mkdir(DATA)
    assert assert_safe_path(fs, DATA) == DATA
    assert assert_safe_path(fs, r"c:\ProgramData\new\deeper") == r"C:\ProgramData\new\deeper"


@pytest.mark.parametrize(
    "link",
    [r"C:\ProgramData\DockerDesktop", DATA, DATA + r"\DockerDesktop.vhdx"],
)
def test_any_link_on_the_path_is_refused(link: str) -> None:
    fs = FakeFileSystem()
    fs.mkdir(r"C:\Windows\System32")
    fs.mkdir(r"C:\ProgramData")
    if link.endswith(".vhdx"):
        fs.mkdir(DATA)
        fs.symlink(link, r"C:\Windows\System32\ualapi.dll")
    else:
        fs.junction(link, r"C:\Windows\System32")
    assert _fqid(fs, DATA + r"\DockerDesktop.vhdx") == "DdpermReparsePoint"


def test_dangling_link_is_refused() -> None:
    fs = FakeFileSystem()
    fs.symlink(DATA + r"\DockerDesktop.vhdx", r"C:\nowhere\x.dll")
    assert _fqid(fs, DATA + r"\DockerDesktop.vhdx") == "DdpermReparsePoint"


@pytest.mark.parametrize(
    "path",
    [
        r"C:\Windows\Temp\x",
        r"D:\windows",
        r"C:\Program Files\Docker",
        r"c:\PROGRAMDATA\Microsoft",
        r"C:\Config.Msi\x.rbf",
        r"C:\$WinREAgent\x",
        r"E:\$Recycle.Bin",
    ],
)
def test_system_folders_are_refused_on_any_drive(path: str) -> None:
    fs = FakeFileSystem(("C:", "D:"))
    assert _fqid(fs, path) == "DdpermSystemPath"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "relative\\x",
        r"\\server\share\x",
        r"C:\a\..\Windows",
        r"C:\PROGRA~1\x",
        r"C:\a:stream",
        "C:\\a\\b.",
        "C:\\a\x00b",
        "C:/Windows",
        "C:\\",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    assert _fqid(FakeFileSystem(), path) == "DdpermUnsafePath"


# -- the VM name pin: hypothesis properties ---------------------------------------------

LOOK_ALIKES = {
    "o": ["\u043e", "\u03bf", "\uff4f", "0"],  # Cyrillic o, Greek omicron, fullwidth o, zero
    "D": ["\u0110", "\uff24", "\u216e"],  # D with stroke, fullwidth D, Roman numeral 500
    "M": ["\u041c", "\u039c", "\u216f"],
    "e": ["\u0435", "\u0454"],
    "c": ["\u0441", "\u217d"],
    "k": ["\u043a", "\u212a"],  # Kelvin sign
    "V": ["\u0412", "\u2164"],
    "p": ["\u0440"],
    "s": ["\u0455"],
    "t": ["\u0442"],
}


def _variants_of_the_name() -> st.SearchStrategy[str]:
    """Strings that differ from DockerDesktopVM in ways a careless check would miss."""
    name = VM_NAME
    index = st.integers(0, len(name))
    cased = st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda flips: "".join(c.swapcase() if f else c for c, f in zip(name, flips, strict=True))
    )
    padded = st.tuples(
        st.text(" \t\r\n\x00\u00a0\u200b\ufeff", min_size=0, max_size=3),
        st.text(" \t\r\n\x00\u00a0\u200b\ufeff", min_size=0, max_size=3),
    ).map(lambda p: p[0] + name + p[1])
    wild = st.tuples(index, st.sampled_from(["*", "?", "[", "]", "[a-z]", "\x00", "`"])).map(
        lambda t: name[: t[0]] + t[1] + name[t[0] :]
    )
    truncated = st.integers(0, len(name) - 1).map(lambda n: name[:n])
    swapped = st.sampled_from(
        [(i, alt) for i, c in enumerate(name) for alt in LOOK_ALIKES.get(c, [])]
    ).map(lambda t: name[: t[0]] + t[1] + name[t[0] + 1 :])
    return st.one_of(cased, padded, wild, truncated, swapped, st.text())


@given(_variants_of_the_name())
def test_pin_refuses_every_other_string(candidate: str) -> None:
    assume(candidate != VM_NAME)
    with pytest.raises(PolicyError):
        pin_vm_name(candidate)


@given(_variants_of_the_name())
def test_a_vmspec_with_another_name_is_a_policy_error(candidate: str) -> None:
    assume(candidate != VM_NAME)
    with pytest.raises(PolicyError):
        VMSpec(vm_name=candidate)


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.just(VM_NAME))))
def test_pin_refuses_non_strings(candidate: object) -> None:
    with pytest.raises(PolicyError):
        pin_vm_name(candidate)


def test_pin_accepts_exactly_the_name() -> None:
    assert pin_vm_name("DockerDesktopVM") == "DockerDesktopVM"
    assert VMSpec(vm_name="DockerDesktopVM").vm_name == VM_NAME
    with pytest.raises(PolicyError):
        pin_vm_name(type("S", (str,), {})("DockerDesktopV"))


@given(_variants_of_the_name())
def test_the_executor_never_sends_another_vm_name(candidate: str) -> None:
    assume(candidate != VM_NAME)
    fake = FakeHost()
    host = twin_host(fake)
    for script in VM_SCRIPTS:
        with pytest.raises(PolicyError):
            host.executor.call(script, BaseModel, {"VMName": candidate})
    assert fake.calls == []


def _params(script: str, name: str) -> dict[str, object]:
    """Valid parameters for ``script`` except, perhaps, the VM name."""
    params: dict[str, object] = {"VMName": name}
    if script == "vhd_move":
        params["Destination"] = r"C:\x"
    if script == "vm_create":
        params.update(
            ProcessorCount=2, MemoryStartupBytes=2**31, DiskSizeBytes=2**36, DataFolder=r"C:\x"
        )
    return params


@pytest.mark.parametrize("script", VM_SCRIPTS)
def test_the_host_side_pin_holds_when_python_is_bypassed(script: str) -> None:
    fake = FakeHost()
    seed_docker_vm(fake, state="Running")
    fake.features["Microsoft-Hyper-V-Management-PowerShell"] = "Disabled"  # checked later
    with pytest.raises(ErrorRecord) as info:
        fake.execute(script, _params(script, "minikube"))
    assert info.value.fqid == f"ParameterArgumentValidationError,{script}"
    # ValidateSet is case-insensitive, so the scripts check the exact name themselves.
    with pytest.raises(ErrorRecord) as info:
        fake.execute(script, _params(script, "dockerdesktopvm"))
    assert info.value.fqid == "DdpermVMNameMismatch"
    assert fake.vms[0].state == "Running"
    assert len(fake.vms) == 1


@pytest.mark.parametrize("script", VM_SCRIPTS)
def test_vm_scripts_carry_the_pin_and_qualified_cmdlets(script: str) -> None:
    kept = {v.rule for v in vetting.vet_job(ScriptRegistry(), script)} - {vetting.NOT_ALLOWLISTED}
    assert kept == set()
    text = ScriptRegistry().get(script).text
    assert "[ValidateSet('DockerDesktopVM')]" in text


@pytest.mark.parametrize("library", ["lib/Paths.ps1", "lib/HyperV.ps1"])
def test_vm_libraries_pass_vetting(library: str) -> None:
    found = vetting.vet_library(script_root(), library)
    assert [v for v in found if v.rule != vetting.NOT_ALLOWLISTED] == []


# -- CVE anchors against the twin (security-anchors.md sections 1 and 6) ----------------

VICTIM = r"C:\Windows\System32\ualapi.dll"
SYSTEM32 = r"C:\Windows\System32"
DISK = DATA + r"\DockerDesktop.vhdx"


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return backend.fake


def _with_victim(backend: Backend) -> FakeHost:
    fake = _fake(backend)
    fake.fs.write_bytes(VICTIM, b"MZ system dll")
    return fake


def _host_refusal(error: pytest.ExceptionInfo[HostError]) -> str:
    return error.value.fully_qualified_error_id


def test_destroy_refuses_a_data_folder_that_became_a_junction(backend: Backend) -> None:
    """CVE-2022-31647: DataFolder + DockerDesktop.vhdx, deleted through a junction."""
    fake = _with_victim(backend)
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    fake.fs.remove(DATA)
    fake.fs.write_bytes(SYSTEM32 + r"\DockerDesktop.vhdx", b"victim")
    fake.fs.junction(DATA, SYSTEM32)
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(SYSTEM32 + r"\DockerDesktop.vhdx") == b"victim"
    assert len(fake.vms) == 1


def test_destroy_refuses_a_disk_that_is_a_symlink(backend: Backend) -> None:
    """CVE-2022-31647 with DockerDesktop.vhdx itself a link to a system file."""
    fake = _with_victim(backend)
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    fake.fs.symlink(DISK, VICTIM)
    with pytest.raises(HostError) as info:
        backend.host.vm.destroy()
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert len(fake.vms) == 1


@pytest.mark.parametrize(
    "folder", [r"C:\Windows\System32", r"c:/windows/temp/vm", r"C:\Program Files\Docker"]
)
def test_create_refuses_system_folders_before_anything_runs(twin: Backend, folder: str) -> None:
    """CVE-2022-34292: vmms.exe creates the VHDX wherever DataFolder points."""
    with pytest.raises(PolicyError):
        twin.host.vm.create(VMSpec(data_folder=folder))
    assert _fake(twin).calls == []


@pytest.mark.parametrize(
    "plant",
    [
        lambda fs: fs.junction(r"C:\Users\dev\dd", SYSTEM32),
        lambda fs: fs.junction(r"C:\Users\dev\dd\vm", SYSTEM32),
        lambda fs: fs.symlink(r"C:\Users\dev\dd\vm\DockerDesktop.vhdx", VICTIM),
        lambda fs: fs.symlink(r"C:\Users\dev\dd\vm\DockerDesktop.vhdx", r"C:\Windows\new.dll"),
    ],
    ids=["parent-junction", "folder-junction", "disk-symlink", "dangling-disk-symlink"],
)
def test_create_refuses_links_into_system_folders(
    backend: Backend, plant: Callable[[FakeFileSystem], None]
) -> None:
    """CVE-2022-34292 through a junction: the string is fine, the disk is not."""
    fake = _with_victim(backend)
    plant(fake.fs)
    folder = r"C:\Users\dev\dd\vm"
    assert check_path(folder) == folder  # the string check cannot see the link
    before = sorted(fake.fs.listdir(SYSTEM32))
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(data_folder=folder))
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert sorted(fake.fs.listdir(SYSTEM32)) == before
    assert not fake.fs.exists(r"C:\Windows\new.dll")
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert fake.vms == []


@pytest.mark.parametrize(
    ("plant", "destination"),
    [
        (lambda fs: fs.junction(r"C:\Docker\dest", SYSTEM32), r"C:\Docker\dest"),
        (lambda fs: fs.junction(r"C:\Docker", SYSTEM32), r"C:\Docker\dest"),
        (
            lambda fs: fs.symlink(r"C:\Docker\DockerDesktop.vhdx", VICTIM),
            r"C:\Docker\DockerDesktop.vhdx",
        ),
    ],
    ids=["destination-junction", "parent-junction", "destination-file-symlink"],
)
def test_move_refuses_a_destination_through_a_link(
    backend: Backend, plant: Callable[[FakeFileSystem], None], destination: str
) -> None:
    """CVE-2022-25365: the moved file (with the attacker's ACL) lands anywhere via a link."""
    fake = _with_victim(backend)
    seed_docker_vm(fake)
    plant(fake.fs)
    before = sorted(fake.fs.listdir(SYSTEM32))
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(destination)
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert sorted(fake.fs.listdir(SYSTEM32)) == before
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert fake.fs.exists(DISK)
    assert fake.vms[0].vhd_path == DISK


def test_move_does_not_traverse_a_source_subfolder_that_is_a_junction(backend: Backend) -> None:
    """CVE-2022-25365: the source side through a junction to a protected folder."""
    fake = _with_victim(backend)
    fake.fs.write_bytes(SYSTEM32 + r"\DockerDesktop.vhdx", b"victim")
    fake.fs.junction(DATA + r"\sub", SYSTEM32)
    seed_docker_vm(fake).vhd_path = DATA + r"\sub\DockerDesktop.vhdx"
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"C:\Docker")
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(SYSTEM32 + r"\DockerDesktop.vhdx") == b"victim"
    assert not fake.fs.exists(r"C:\Docker")


@pytest.mark.parametrize("destination", [r"C:\Docker", r"D:\Docker"])
def test_move_refuses_a_disk_with_other_names(backend: Backend, destination: str) -> None:
    """CVE-2020-10665: resetting the moved file's ACL would reset a hard-linked system file's."""
    fake = _with_victim(backend)
    fake.fs.add_volume("D:")
    fake.fs.set_acl(VICTIM, {SYSTEM: "FullControl"})
    seed_docker_vm(fake)
    fake.fs.remove(DISK)
    fake.fs.hardlink(DISK, VICTIM)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(destination)
    assert _host_refusal(info) == "DdpermHardLink"
    assert fake.fs.acl(VICTIM) == {SYSTEM: "FullControl"}
    assert fake.fs.exists(DISK)
    assert fake.vms[0].vhd_path == DISK


def test_cross_volume_move_succeeds_and_a_lock_rolls_back(backend: Backend) -> None:
    """Anchor 6.5: MoveFileEx across volumes is copy + delete; a lock leaves the original."""
    fake = _fake(backend)
    fake.fs.add_volume("D:")
    seed_docker_vm(fake)
    fake.fs.file_data(DISK).locked = True
    with pytest.raises(HostError):
        backend.host.vhd.move(r"D:\Docker")
    assert fake.fs.exists(DISK)
    assert not fake.fs.exists(r"D:\Docker")
    fake.fs.file_data(DISK).locked = False
    assert backend.host.vhd.move(r"D:\Docker").method == "copy"
    assert fake.fs.exists(r"D:\Docker\DockerDesktop.vhdx")
    assert not fake.fs.exists(DISK)


# -- numbers: the spec, the script's ValidateRange and the twin agree ---------------------


def _script_ranges(script: str) -> dict[str, tuple[int, int]]:
    text = (script_root() / f"{script}.ps1").read_text()
    found = re.findall(r"\[ValidateRange\((\d+), (\d+)\)\]\s*\[\w+\]\$(\w+)", text)
    return {name: (int(low), int(high)) for low, high, name in found}


def _spec_range(field: str) -> tuple[int, int]:
    metadata = VMSpec.model_fields[field].metadata
    low = next(m.ge for m in metadata if hasattr(m, "ge"))
    high = next(m.le for m in metadata if hasattr(m, "le"))
    return int(low), int(high)


def test_vm_create_ranges_match_the_spec() -> None:
    assert _script_ranges("vm_create") == {
        "ProcessorCount": _spec_range("cpus"),
        "MemoryStartupBytes": _spec_range("memory_bytes"),
        "DiskSizeBytes": _spec_range("disk_size_bytes"),
    }
    assert _script_ranges("vm_stop") == {"TimeoutSeconds": (1, 600)}


@pytest.mark.parametrize("script", ["vm_create", "vm_stop"])
def test_the_twin_binds_out_of_range_numbers_like_powershell(script: str) -> None:
    for name, (low, high) in _script_ranges(script).items():
        for value in (low - 1, high + 1):
            fake = FakeHost()
            seed_docker_vm(fake, state="Running")
            params = {**_params(script, VM_NAME), name: value}
            with pytest.raises(ErrorRecord) as info:
                fake.execute(script, params)
            assert info.value.fqid == f"ParameterArgumentValidationError,{script}"
            assert f"The {value} argument is" in info.value.message
            assert (len(fake.vms), fake.vms[0].state) == (1, "Running")


# -- the host-side re-check on its own ----------------------------------------------------

SEGMENT = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ ", min_size=1, max_size=8)
    .map(lambda s: s.strip() or "x")
    .filter(lambda s: not re.fullmatch(r"con|prn|aux|nul|com[0-9]|lpt[0-9]", s))  # devices
)


@given(st.lists(SEGMENT, min_size=1, max_size=6), st.data())
def test_a_link_at_any_depth_is_found(segments: list[str], data: st.DataObject) -> None:
    fs = FakeFileSystem()
    fs.mkdir(SYSTEM32)
    path = "C:\\data\\" + "\\".join(segments)
    assert assert_safe_path(fs, path) == path  # nothing exists yet: plain
    depth = data.draw(st.integers(1, len(segments)))
    link = "C:\\data\\" + "\\".join(segments[:depth])
    if data.draw(st.booleans()):
        fs.junction(link, SYSTEM32)
    else:
        fs.symlink(link, VICTIM)
    with pytest.raises(ErrorRecord) as info:
        assert_safe_path(fs, path)
    assert info.value.fqid == "DdpermReparsePoint"
    assert info.value.target.lower() == link.lower()


@pytest.mark.parametrize(
    ("destination", "fqid"),
    [
        (r"C:\Windows\System32", "DdpermSystemPath"),
        (r"C:\Config.Msi", "DdpermSystemPath"),
        (r"C:\Docker\..\Windows", "DdpermUnsafePath"),
        (r"\\attacker\share", "DdpermUnsafePath"),
        (r"C:\Docker\x.vhdx:stream", "DdpermUnsafePath"),
    ],
)
def test_the_scripts_recheck_paths_when_python_is_bypassed(destination: str, fqid: str) -> None:
    fake = FakeHost()
    seed_docker_vm(fake)
    with pytest.raises(ErrorRecord) as info:
        fake.execute("vhd_move", {"VMName": VM_NAME, "Destination": destination})
    assert info.value.fqid == fqid
    assert fake.vms[0].vhd_path == DISK
    create = {**_params("vm_create", VM_NAME), "DataFolder": destination}
    fake.vms.clear()
    with pytest.raises(ErrorRecord) as info:
        fake.execute("vm_create", create)
    assert info.value.fqid == fqid
    assert fake.vms == []


# -- links planted while a job runs (the re-check right before the write or delete) -------


class _PlantOnRemove(list[FakeVM]):
    """Host.vms whose Remove-VM takes long enough for an attacker to plant a link."""

    def __init__(self, items: list[FakeVM], plant: Callable[[], None]) -> None:
        super().__init__(items)
        self.plant = plant

    def remove(self, item: FakeVM) -> None:
        super().remove(item)
        self.plant()


def test_destroy_rechecks_the_disk_after_remove_vm(twin: Backend) -> None:
    fake = _with_victim(twin)
    seed_docker_vm(fake)

    def plant() -> None:
        fake.fs.remove(DISK)
        fake.fs.symlink(DISK, VICTIM)

    fake.vms = _PlantOnRemove(fake.vms, plant)
    with pytest.raises(HostError) as info:
        twin.host.vm.destroy()
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"


def test_create_rechecks_the_disk_path_after_making_the_folder(twin: Backend) -> None:
    fake = _with_victim(twin)
    folder = r"C:\Docker\vm"
    make_folder = fake.fs.mkdir

    def mkdir_then_plant(path: str, **kwargs: bool) -> None:
        make_folder(path, **kwargs)
        if path == folder:
            fake.fs.mkdir = make_folder  # type: ignore[method-assign]
            fake.fs.symlink(folder + r"\DockerDesktop.vhdx", VICTIM)

    fake.fs.mkdir = mkdir_then_plant  # type: ignore[method-assign]
    with pytest.raises(HostError) as info:
        twin.host.vm.create(VMSpec(data_folder=folder))
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert fake.vms == []


@pytest.mark.parametrize("destination", [r"C:\Docker\new", r"D:\Docker\new"])
def test_move_rechecks_the_destination_after_making_the_folder(
    twin: Backend, destination: str
) -> None:
    fake = _with_victim(twin)
    fake.fs.add_volume("D:")
    seed_docker_vm(fake)
    make_folder = fake.fs.mkdir

    def mkdir_then_plant(path: str, **kwargs: bool) -> None:
        make_folder(path, **kwargs)
        if path == destination:
            fake.fs.mkdir = make_folder  # type: ignore[method-assign]
            fake.fs.symlink(destination + r"\DockerDesktop.vhdx", VICTIM)

    fake.fs.mkdir = mkdir_then_plant  # type: ignore[method-assign]
    with pytest.raises(HostError) as info:
        twin.host.vhd.move(destination)
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert fake.fs.exists(DISK)
    assert fake.vms[0].vhd_path == DISK


# -- folder ACLs: nothing is written where a non-administrator could change the folder ----
# (CVE-2022-38730: a pre-created folder hands its ACL to what SYSTEM writes in it, and can be
# swapped for a junction mid-job; CVE-2025-3224: a user pre-creates a ProgramData folder.)

DEV = Caller().sid
AUTHENTICATED_USERS = "S-1-5-11"
ADMIN_ONLY = {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl"}


def _user_made(fs: FakeFileSystem, folder: str) -> None:
    """What a developer's ``mkdir`` leaves: owned by them, and theirs to change."""
    fs.mkdir(folder)
    fs.set_owner(folder, DEV)
    fs.set_acl(folder, {**ADMIN_ONLY, DEV: "FullControl"})


@pytest.mark.parametrize(
    "seed",
    [
        lambda fs: _user_made(fs, r"C:\DockerData\vm"),
        lambda fs: _user_made(fs, r"C:\DockerData"),
        lambda fs: (
            fs.mkdir(r"C:\DockerData\vm"),
            fs.set_acl(r"C:\DockerData", {**ADMIN_ONLY, AUTHENTICATED_USERS: "Modify"}),
        ),
        lambda fs: (
            _user_made(fs, r"C:\DockerData"),
            fs.mkdir(r"C:\DockerData\vm", acl=ADMIN_ONLY),
        ),
        lambda fs: (  # an owner may rewrite the ACL whenever they like
            fs.mkdir(r"C:\DockerData\vm", acl=ADMIN_ONLY),
            fs.set_owner(r"C:\DockerData\vm", DEV),
        ),
    ],
    ids=[
        "user-made-folder",
        "missing-folder-in-user-made",
        "inherited-user-write",
        "user-parent",
        "user-owned-admin-acl",
    ],
)
def test_create_refuses_a_data_folder_a_user_could_change(
    backend: Backend, seed: Callable[[FakeFileSystem], object]
) -> None:
    fake = _fake(backend)
    seed(fake.fs)
    before = snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(data_folder=r"C:\DockerData\vm"))
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert snapshot(fake) == before


def test_create_makes_no_exception_for_the_callers_profile(backend: Backend) -> None:
    """The developer may rename any folder in their profile, so swap it for a junction."""
    fake = _fake(backend)
    fake.fs.set_acl(r"C:\Users\dev", {**ADMIN_ONLY, DEV: "FullControl"})
    fake.fs.mkdir(r"C:\Users\dev\dd\vm", acl=ADMIN_ONLY)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(data_folder=r"C:\Users\dev\dd\vm"))
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert fake.vms == []
    assert fake.fs.listdir(r"C:\Users\dev\dd\vm") == []


def test_create_accepts_the_installers_admin_only_folder(backend: Backend) -> None:
    fake = _fake(backend)
    assert backend.host.vm.create(VMSpec()).vhd_path == DISK
    assert fake.fs.stat(DISK).size > 0


def test_create_makes_the_default_folder_on_a_machine_without_docker_desktop(
    backend: Backend,
) -> None:
    r"""C:\ProgramData lets users create folders in it but not remove or rename what is
    there: a folder ddperm makes in it, admin-only from the start, is safe to use."""
    fake = _fake(backend)
    fake.fs.remove(DATA)
    fake.fs.remove(DOCKER_DESKTOP_FOLDER)
    assert backend.host.vm.create(VMSpec()).vhd_path == DISK
    for created in (DOCKER_DESKTOP_FOLDER, DATA):
        assert fake.fs.protected(created)
        assert fake.fs.explicit_acl(created) == ADMIN_ONLY
        assert fake.fs.owner(created) == ADMINISTRATORS


def test_create_refuses_a_new_folder_where_users_may_remove_folders(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.set_acl(r"C:\ProgramData", PROGRAMDATA_SDDL + "(A;CI;0x40;;;BU)")
    before = snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vm.create(VMSpec(data_folder=r"C:\ProgramData\Elsewhere\vm"))
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert "S-1-5-32-545 holds DeleteSubdirectoriesAndFiles" in info.value.message
    assert snapshot(fake) == before


@pytest.mark.parametrize(
    ("passed_on", "refused"),
    [
        ("(A;OIIO;0x1301bf;;;BU)", True),  # every file created in it: Users may modify
        ("(A;OICIIO;GA;;;CG)", True),  # CREATOR GROUP: the creator's primary group
        ("(A;OICIIO;GA;;;CO)", False),  # CREATOR OWNER: whoever creates, here SYSTEM
    ],
)
def test_create_checks_what_the_data_folder_passes_on_to_new_files(
    backend: Backend, passed_on: str, refused: bool
) -> None:
    """An inherit-only ACE grants nothing on the folder, all on the disk vmms writes in it."""
    fake = _fake(backend)
    fake.fs.mkdir(r"C:\DockerData\vm", acl="O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
    fake.fs.set_acl(r"C:\DockerData", "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
    fake.fs.set_acl(r"C:\DockerData\vm", "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" + passed_on)
    spec = VMSpec(data_folder=r"C:\DockerData\vm")
    if not refused:
        assert backend.host.vm.create(spec).vhd_path == r"C:\DockerData\vm\DockerDesktop.vhdx"
        return
    with pytest.raises(HostError) as info:
        backend.host.vm.create(spec)
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert fake.vms == []


def test_a_junction_a_user_makes_first_is_refused(twin: Backend) -> None:
    """The race: between the check and the create the developer puts a junction where
    ddperm's folder goes; the re-check after creating sees the link itself."""
    fake = _with_victim(twin)
    make_folder = fake.fs.mkdir

    def user_first(path: str, **kwargs: object) -> None:
        if path == r"C:\Docker":
            fake.fs.mkdir = make_folder  # type: ignore[method-assign]
            fake.fs.junction(path, SYSTEM32)
            fake.fs.set_owner(path, DEV)
        make_folder(path, **kwargs)  # type: ignore[arg-type]

    fake.fs.mkdir = user_first  # type: ignore[method-assign]
    with pytest.raises(HostError) as info:
        twin.host.vm.create(VMSpec(data_folder=r"C:\Docker\vm"))
    assert _host_refusal(info) == "DdpermReparsePoint"
    assert fake.fs.read_bytes(VICTIM) == b"MZ system dll"
    assert "vm" not in fake.fs.listdir(SYSTEM32)


@pytest.mark.parametrize("folder", [r"C:\Docker\vm", r"D:\Docker\vm"])
def test_folders_ddperm_creates_are_admin_only(backend: Backend, folder: str) -> None:
    """Made in a volume root, they would inherit the root's user write ACE otherwise."""
    fake = _fake(backend)
    fake.fs.add_volume("D:")
    backend.host.vm.create(VMSpec(data_folder=folder))
    for created in (folder[:9], folder):
        assert fake.fs.explicit_acl(created) == ADMIN_ONLY
        assert fake.fs.owner(created) == ADMINISTRATORS


def test_a_folder_a_user_creates_first_is_refused(twin: Backend) -> None:
    """The race: between the check and the create the developer makes the folder."""
    fake = _fake(twin)
    make_folder = fake.fs.mkdir

    def user_first(path: str, **kwargs: object) -> None:
        if path == r"C:\Docker":
            fake.fs.mkdir = make_folder  # type: ignore[method-assign]
            _user_made(fake.fs, path)
        make_folder(path, **kwargs)  # type: ignore[arg-type]

    fake.fs.mkdir = user_first  # type: ignore[method-assign]
    with pytest.raises(HostError) as info:
        twin.host.vm.create(VMSpec(data_folder=r"C:\Docker\vm"))
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert fake.vms == []
    assert not fake.fs.exists(r"C:\Docker\vm")


def test_move_refuses_a_destination_a_user_could_change(backend: Backend) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake)
    _user_made(fake.fs, r"C:\DockerData")
    before = snapshot(fake)
    with pytest.raises(HostError) as info:
        backend.host.vhd.move(r"C:\DockerData\disks")
    assert _host_refusal(info) == "DdpermUnsafeAcl"
    assert snapshot(fake) == before


@pytest.mark.parametrize(
    "iso",
    [r"\\attacker\share\x.iso", r"C:\images\x.img", r"C:\images\x.iso:stream", r"C:\a\..\x.iso"],
)
def test_vm_create_rechecks_the_boot_iso_when_python_is_bypassed(iso: str) -> None:
    fake = FakeHost()
    fake.fs.create_sized_file(r"C:\images\x.img", 10)
    create = {**_params("vm_create", VM_NAME), "BootIso": iso}
    with pytest.raises(ErrorRecord) as info:
        fake.execute("vm_create", create)
    assert info.value.fqid == "DdpermUnsafePath"
    assert fake.vms == []
