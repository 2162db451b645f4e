"""The host refuses at least every path the Python guard refuses, with Python bypassed.

The cases come from ddperm.guard's own lists, so a location or rule added there without
its twin in lib/Paths.ps1 fails here. Each runs through the vetted scripts (vm_create,
vhd_move) by the executor and the twin runner, which never call the guard's path check:
what a caller of the raw service API or of plain PSRP gets. The twin reads its lists from
the script text (``PATHS_LIBRARY``), so comparing those to the guard compares the script.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddperm import guard
from ddperm.components.vhd import VHDMove
from ddperm.components.vm import VMInfo
from ddperm.errors import HostError, PolicyError
from ddperm.executor import Executor
from ddperm.testing import ErrorRecord, FakeFileSystem, FakeHost, TwinRunner
from ddperm.testing.fakehost import CONTAINERS_DATA_ROOT
from ddperm.testing.jobs import hyperv as twin
from ddperm.testing.jobs.hyperv import assert_safe_path, seed_docker_vm
from tests.backends import Backend

DISK = r"C:\ProgramData\DockerDesktop\vm-data\DockerDesktop.vhdx"
GUARD_LOCATIONS = guard.SYSTEM_FOLDERS + guard._MORE_SYSTEM_FOLDERS
REFUSALS = {"DdpermUnsafePath", "DdpermReparsePoint", "DdpermSystemPath"}


# -- the lists in the script text equal the guard's ---------------------------------------


def test_the_script_lists_every_location_the_guard_refuses() -> None:
    assert sorted(twin.HOST_SYSTEM_FOLDERS) == sorted(GUARD_LOCATIONS)
    assert twin.SHARED_ROOTS == guard._SHARED_ROOTS


def test_the_script_has_the_guards_limits_and_characters() -> None:
    assert (twin.MAX_PATH, twin.MAX_SEGMENT) == (guard.MAX_PATH, guard.MAX_SEGMENT)
    assert set(twin.FORBIDDEN_CHARS) == guard._WIN32_FORBIDDEN | guard._WILDCARD
    assert set(twin.LOOKALIKE_TARGETS) == guard._SPECIAL_ASCII
    assert {chr(c) for c in twin.BEST_FIT} == guard._BEST_FIT
    refused = {twin.DOTNET_CATEGORIES[c] for c in guard._BAD_CATEGORIES}
    assert set(twin.BAD_CATEGORIES) == refused


def test_the_script_reserves_every_device_name_the_guard_does() -> None:
    stems = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM", "LPT", "CONIN", "CONX"]
    names = [s + n for s in stems for n in ["", *"0123456789", "10"]]
    names += [n.lower() for n in names]
    reserved = [n for n in names if guard._RESERVED.fullmatch(n)]
    assert len(reserved) == 2 * (6 + 20)
    for name in names:
        assert bool(twin.RESERVED_NAMES.match(name)) == (name in reserved), name


# -- every refused location, through the scripts, Python bypassed -------------------------


def snapshot(fake: FakeHost) -> object:
    """Everything a refused call must leave as it was: VMs, disks, every entry and its ACL."""
    entries = []
    for drive in sorted(fake.fs.volumes):
        for st_ in fake.fs.walk(drive + "\\"):
            entries.append((st_.path, st_.kind, st_.size, fake.fs.sddl(st_.path)))
    vms = [(vm.name, vm.state, vm.vhd_path) for vm in fake.vms]
    return vms, sorted(fake.vhds), entries


def _refused_by_the_host(path: str) -> set[str]:
    """Run ``path`` as vm_create's DataFolder and vhd_move's Destination on a fresh twin;
    both must fail and change nothing. Returns the error ids."""
    ids = set()
    for script, model, seed in (("vm_create", VMInfo, False), ("vhd_move", VHDMove, True)):
        fake = FakeHost()
        fake.fs.add_volume("D:")
        if seed:
            seed_docker_vm(fake)
        params: dict[str, object] = {"VMName": guard.VM_NAME}
        if script == "vm_create":
            params.update(
                ProcessorCount=2, MemoryStartupBytes=2**31, DiskSizeBytes=2**36, DataFolder=path
            )
        else:
            params["Destination"] = path
        before = snapshot(fake)
        with pytest.raises(HostError) as info:
            Executor(TwinRunner(fake)).call(script, model, params)
        assert snapshot(fake) == before, (script, path)
        ids.add(info.value.fully_qualified_error_id)
    return ids


def _location_cases() -> list[str]:
    below = [f"{d}:{folder}\\ddperm" for folder in GUARD_LOCATIONS for d in "CD"]
    itself = [f"C:{folder}" for folder in GUARD_LOCATIONS + guard._SHARED_ROOTS]
    return [*itself, *below, r"C:\$WinREAgent", r"D:\$Extend\x"]


@pytest.mark.parametrize("path", _location_cases())
def test_every_location_the_guard_refuses_is_refused_on_the_host(path: str) -> None:
    with pytest.raises(PolicyError):
        guard.check_path(path)
    assert _refused_by_the_host(path) == {"DdpermSystemPath"}


@pytest.mark.parametrize("folder", GUARD_LOCATIONS + guard._SHARED_ROOTS)
def test_a_fine_string_that_resolves_into_a_location_is_refused(folder: str) -> None:
    """The string passes the guard; a junction on it leads into the protected location."""
    path = r"C:\Users\dev\innocent\vm"
    assert guard.check_path(path) == path
    for script, model, params in (
        ("vm_create", VMInfo, {"ProcessorCount": 2, "MemoryStartupBytes": 2**31}),
        ("vhd_move", VHDMove, {}),
    ):
        fake = FakeHost()
        fake.fs.mkdir("C:" + folder)
        fake.fs.junction(r"C:\Users\dev\innocent", "C:" + folder)
        if script == "vhd_move":
            seed_docker_vm(fake)
            params = {"Destination": path}
        else:
            params = {**params, "DiskSizeBytes": 2**36, "DataFolder": path}
        before = snapshot(fake)
        with pytest.raises(HostError) as info:
            Executor(TwinRunner(fake)).call(script, model, {"VMName": guard.VM_NAME, **params})
        assert info.value.fully_qualified_error_id == "DdpermReparsePoint"
        assert snapshot(fake) == before


# -- every string rule of the guard, through the scripts ----------------------------------


def _first_of_category(category: str) -> str:
    return next(chr(c) for c in range(0x80, 0x10000) if unicodedata.category(chr(c)) == category)


def _string_cases() -> list[str]:
    chars = sorted(guard._WIN32_FORBIDDEN | guard._WILDCARD | guard._BEST_FIT)
    chars += [_first_of_category(c) for c in sorted(guard._BAD_CATEGORIES)]
    chars += ["\x7f", "\u00a0", "\u3000", "\uff3c", "\u212a", "\u0131", "\u2024", "\u00b9"]
    reserved = ["CON", "nul.txt", "COM1", "lpt9.log", "CONIN$", "conout$ .x", "AUX"]
    return [
        *(f"C:\\data\\a{c}b" for c in chars),
        *(f"C:\\data\\{name}" for name in reserved),
        "C:\\data\\" + "x" * (guard.MAX_SEGMENT + 1),
        "C:\\" + "\\".join(["x" * 99] * 3),  # 302 characters
        "C:\\data\\dot.",
        "C:\\data\\space ",
        r"C:\data\PROGRA~1",
        r"C:\data\\twice",
        r"C:\data\..\x",
        r"C:\data\.",
        " C:\\data",
        "C:\\",
        r"\\server\share\data",
        r"\\?\C:\data",
        "data",
        "C:data",
        r"C:\data\vm.vhdx::$DATA",
    ]


@pytest.mark.parametrize("path", _string_cases())
def test_every_string_the_guard_refuses_is_refused_on_the_host(path: str) -> None:
    with pytest.raises(PolicyError):
        guard.check_path(path)
    assert _refused_by_the_host(path) == {"DdpermUnsafePath"}


def _refused_by_guard(path: str) -> bool:
    try:
        guard.check_path(path)
    except PolicyError:
        return True
    return False


def _host_refusal(path: str) -> str:
    try:
        assert_safe_path(FakeFileSystem(("C:", "D:")), path)
    except ErrorRecord as record:
        return record.fqid
    return ""


def test_every_character_the_guard_refuses_the_host_refuses() -> None:
    """Every BMP character in a name; outside the BMP a .NET string holds a surrogate pair,
    which the host refuses even where the guard does not."""
    names = [f"C:\\data\\a{chr(c)}b" for c in range(0x10000)]
    missed = [n for n in names if _refused_by_guard(n) and not _host_refusal(n)]
    assert missed == []
    for c in (0x1F600, 0x20000, 0xE0001, 0x10FFFD):
        assert _host_refusal(f"C:\\data\\a{chr(c)}b") == "DdpermUnsafePath"


PIECES = st.sampled_from(
    [
        "a", "Z", "0", " ", ".", "..", "~1", "$", "\\", "/", ":", "[", "`", "*",
        "windows", "Program Files", "ProgramData", "Users", "Public", "Config.Msi", "con",
        "Documents and Settings", "All Users", "\u00e9", "\u00df", "\u0131", "\u212a",
        "\u200b", "\u00a0", "\uff0e", "\u2044", "\U0001f600", "\x00",
    ]
)  # fmt: skip


@given(st.sampled_from("CcDz"), st.lists(PIECES, min_size=1, max_size=8).map("".join))
def test_whatever_the_guard_refuses_the_host_refuses(drive: str, rest: str) -> None:
    path = f"{drive}:\\{rest}"
    if _refused_by_guard(path):
        assert _host_refusal(path) in REFUSALS


@pytest.mark.parametrize(
    "path",
    [
        r"C:\ProgramData\DockerDesktop\vm-data",
        r"E:\VMs\José Müller\日本語 data",
        r"C:\Users\dev\Straße",
        r"C:\data\.hidden",
        r"C:\data\CONSOLE",
        r"C:\data\$name",
        r"C:\ProgramData\Docker",
        r"C:\Windows2",
    ],
)
def test_what_the_guard_accepts_the_host_accepts_too(path: str) -> None:
    """The host must not refuse everything: plain paths pass on both sides, unchanged."""
    fs = FakeFileSystem(("C:", "E:"))
    assert guard.check_path(path) == path
    assert assert_safe_path(fs, path) == path


def test_names_ddperm_finds_itself_need_not_pass_the_callers_rules(backend: Backend) -> None:
    """Windows container layers hold names no caller could pass ([Content_Types], paths past
    MAX_PATH); emptying the data root re-checks them for links only and removes them."""
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    layer = CONTAINERS_DATA_ROOT + "\\windowsfilter\\" + "0" * 64 + "\\Files\\[Content_Types]"
    # Past the guard's MAX_PATH only where PowerShell can reach it: Windows PowerShell 5.1
    # refuses paths of 260 characters and more (test_windows_containers covers that).
    levels = 4 if backend.fake.edition == "Core" else 1
    deep = layer + "".join("\\amd64_microsoft-windows-" + "x" * 40 for _ in range(levels))
    assert len(deep) > guard.MAX_PATH or backend.fake.edition == "Desktop"
    backend.fake.fs.write_bytes(deep + "\\f.txt", b"x")
    report = backend.host.windows_containers.delete_data(confirm=True)
    assert (report.files_deleted, report.refused) == (1, [])
    assert backend.fake.fs.listdir(CONTAINERS_DATA_ROOT) == []
