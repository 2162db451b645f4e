"""Contract tests of host.windows_containers.delete_data ("delete all Windows containers data").

Security anchors (reference/security-anchors.md section 6): links inside the tree are
removed as links and their targets survive (item 8: svm #48, Delapp #6, CVE-2020-10665);
a root a user pre-created is refused (item 9: CVE-2025-3224).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddperm.components.windows_containers import RefusalReason
from ddperm.errors import HostError, PolicyError
from ddperm.testing import CONTAINERS_DATA_ROOT, ErrorRecord, FakeHost, twin_host
from ddperm.testing.fakehost import Caller
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, USERS, FakeFileSystem, FsError, Kind
from tests.backends import Backend

MakeBackend = Callable[..., Backend]
ROOT = CONTAINERS_DATA_ROOT
OUTSIDE = r"C:\Users\dev\precious"
USER_SID = Caller().sid


def _snapshot(fs: FakeFileSystem) -> list[tuple[Any, ...]]:
    """Every entry on C: with what matters about it (links not followed)."""
    rows: list[tuple[Any, ...]] = []
    for e in fs.walk("C:\\"):
        data = fs.read_bytes(e.path) if e.kind is Kind.FILE and not e.locked else None
        rows.append((e.path, e.kind, e.size, e.links, e.readonly, e.target, data, fs.owner(e.path)))
    return sorted(rows, key=lambda row: str(row[0]))


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("needs a seedable twin")
    return backend.fake


def _seed_tree(fs: FakeFileSystem) -> dict[str, bytes]:
    """A data root with plain files, a read-only file and every kind of link; returns the
    single-name files it planted (path -> content)."""
    plain = {
        ROOT + r"\windowsfilter\layer1\Files\Windows\System32\kernel32.dll": b"MZ" * 400,
        ROOT + r"\windowsfilter\layer1\layerchain.json": b"[]",
        ROOT + r"\image\windowsfilter\repositories.json": b'{"Repositories":{}}',
        ROOT + r"\volumes\data\_data\db.sqlite": bytes(range(256)) * 3,
        ROOT + r"\config\daemon.json": b"{}",
    }
    for path, data in plain.items():
        fs.write_bytes(path, data)
    fs.file_data(ROOT + r"\config\daemon.json").readonly = True
    fs.write_bytes(OUTSIDE + r"\thesis.docx", b"years of work")
    fs.write_bytes(OUTSIDE + r"\sub\notes.txt", b"notes")
    fs.write_bytes(r"C:\Users\dev\hardlinked.txt", b"shared content")
    fs.write_bytes(r"C:\Windows\System32\drivers\etc\protocol", b"ip 0 IP")
    fs.junction(ROOT + r"\volumes\evil-junction", OUTSIDE)
    fs.junction(ROOT + r"\windowsfilter\to-config-msi", r"C:\Config.Msi")
    fs.symlink(ROOT + r"\volumes\dir-symlink", OUTSIDE + r"\sub")
    fs.symlink(ROOT + r"\tmp\file-symlink", r"C:\Windows\System32\drivers\etc\protocol")
    fs.symlink(ROOT + r"\tmp\dangling", r"C:\nowhere")
    fs.hardlink(ROOT + r"\volumes\data\_data\hardlink.txt", r"C:\Users\dev\hardlinked.txt")
    return plain


def test_delete_removes_links_as_links_and_leaves_their_targets(backend: Backend) -> None:
    fake = _fake(backend)
    plain = _seed_tree(fake.fs)
    outside_before = [row for row in _snapshot(fake.fs) if not row[0].startswith(ROOT + "\\")]

    report = backend.host.windows_containers.delete_data(confirm=True)

    assert fake.fs.listdir(ROOT) == []  # everything under the root is gone, the root stays
    assert fake.fs.stat(ROOT).kind is Kind.DIRECTORY
    assert report.complete
    assert report.root == ROOT
    assert report.root_existed
    assert sorted(report.links_removed) == sorted(
        ROOT + suffix
        for suffix in (
            r"\volumes\evil-junction",
            r"\windowsfilter\to-config-msi",
            r"\volumes\dir-symlink",
            r"\tmp\file-symlink",
            r"\tmp\dangling",
        )
    )
    assert report.hardlinks_unlinked == [ROOT + r"\volumes\data\_data\hardlink.txt"]
    assert report.files_deleted == len(plain)
    assert report.bytes_freed == sum(len(data) for data in plain.values())
    # Targets and the hardlinked file's other name are untouched (only its link count fell).
    outside_after = [row for row in _snapshot(fake.fs) if not row[0].startswith(ROOT + "\\")]
    expected = [
        (*row[:3], 1, *row[4:]) if row[0] == r"C:\Users\dev\hardlinked.txt" else row
        for row in outside_before
    ]
    assert outside_after == expected
    assert fake.fs.read_bytes(r"C:\Users\dev\hardlinked.txt") == b"shared content"
    assert fake.fs.read_bytes(OUTSIDE + r"\thesis.docx") == b"years of work"


def test_delete_counts_folders_it_removed(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.mkdir(ROOT + r"\a\b\c")
    fake.fs.mkdir(ROOT + r"\d")
    report = backend.host.windows_containers.delete_data(confirm=True)
    assert report.directories_deleted == 4
    assert (report.files_deleted, report.bytes_freed) == (0, 0)


def test_a_read_only_hardlink_is_refused_and_keeps_its_flag(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(r"C:\Users\dev\ro.txt", b"read only")
    fake.fs.file_data(r"C:\Users\dev\ro.txt").readonly = True
    fake.fs.hardlink(ROOT + r"\layer\ro.txt", r"C:\Users\dev\ro.txt")
    fake.fs.write_bytes(ROOT + r"\other.txt", b"x")

    report = backend.host.windows_containers.delete_data(confirm=True)

    assert [(r.path, r.reason) for r in report.refused] == [
        (ROOT + r"\layer\ro.txt", RefusalReason.READ_ONLY_HARDLINK),
        (ROOT + r"\layer", RefusalReason.NOT_EMPTY),
    ]
    assert not report.complete
    assert fake.fs.stat(r"C:\Users\dev\ro.txt").readonly
    assert fake.fs.stat(r"C:\Users\dev\ro.txt").links == 2
    assert fake.fs.read_bytes(r"C:\Users\dev\ro.txt") == b"read only"
    assert not fake.fs.exists(ROOT + r"\other.txt")


def test_a_file_in_use_is_refused_and_the_rest_is_deleted(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(ROOT + r"\volumes\v1\db", b"locked")
    fake.fs.file_data(ROOT + r"\volumes\v1\db").locked = True
    fake.fs.write_bytes(ROOT + r"\volumes\v2\db", b"free")

    report = backend.host.windows_containers.delete_data(confirm=True)

    assert [(r.path, r.reason) for r in report.refused] == [
        (ROOT + r"\volumes\v1\db", RefusalReason.IN_USE),
        (ROOT + r"\volumes\v1", RefusalReason.NOT_EMPTY),
        (ROOT + r"\volumes", RefusalReason.NOT_EMPTY),
    ]
    assert fake.fs.listdir(ROOT + r"\volumes") == ["v1"]
    assert report.files_deleted == 1
    assert report.bytes_freed == len(b"free")


def test_a_missing_root_is_reported_not_created(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.remove(ROOT)  # the engine never ran
    before = _snapshot(fake.fs)
    report = backend.host.windows_containers.delete_data(confirm=True)
    assert not report.root_existed
    assert report.complete
    assert _snapshot(fake.fs) == before


@pytest.mark.parametrize("link", ["junction", "symlink"])
def test_a_root_that_is_a_link_is_refused(backend: Backend, link: str) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(OUTSIDE + r"\thesis.docx", b"years of work")
    fake.fs.remove(ROOT)
    getattr(fake.fs, link)(ROOT, OUTSIDE)
    before = _snapshot(fake.fs)
    with pytest.raises(HostError) as caught:
        backend.host.windows_containers.delete_data(confirm=True)
    assert caught.value.error_id == "DdpermReparsePoint"
    assert _snapshot(fake.fs) == before


def test_a_program_data_that_is_a_junction_is_refused(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(r"C:\elsewhere\Docker\x", b"x")
    fake.fs.rename(r"C:\ProgramData", r"C:\RealProgramData")
    fake.fs.junction(r"C:\ProgramData", r"C:\elsewhere")
    before = _snapshot(fake.fs)
    with pytest.raises(HostError) as caught:
        backend.host.windows_containers.delete_data(confirm=True)
    assert caught.value.error_id == "DdpermReparsePoint"
    assert _snapshot(fake.fs) == before


@pytest.mark.parametrize(
    ("owner", "acl"),
    [
        # A user ran 'mkdir C:\ProgramData\Docker' first: owner and creator-owner rights.
        (USER_SID, {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl", USER_SID: "FullControl"}),
        # Owned by an admin, but the ACL lets Users modify it.
        (ADMINISTRATORS, {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl", USERS: "Modify"}),
        # The ACL is admin-only, but a user owns it and may rewrite the ACL at will.
        (USER_SID, {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl"}),
    ],
)
def test_a_root_a_user_can_write_is_refused(
    backend: Backend, owner: str, acl: dict[str, str]
) -> None:
    fake = _fake(backend)
    _seed_tree(fake.fs)
    fake.fs.set_owner(ROOT, owner)
    fake.fs.set_acl(ROOT, acl)
    before = _snapshot(fake.fs)
    with pytest.raises(HostError) as caught:
        backend.host.windows_containers.delete_data(confirm=True)
    assert caught.value.error_id == "DdpermUnsafeAcl"
    assert caught.value.category == "SecurityError"
    assert _snapshot(fake.fs) == before


@pytest.mark.parametrize(
    ("owner", "acl"),
    [
        (ADMINISTRATORS, {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl", USERS: "Modify"}),
        (USER_SID, None),  # inherits the admin-only ACL, but its owner can rewrite that
    ],
)
def test_a_folder_a_user_can_write_is_left_alone_and_reported(
    backend: Backend, owner: str, acl: dict[str, str] | None
) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(ROOT + r"\volumes\shared\_data\data.db", b"db")
    fake.fs.write_bytes(ROOT + r"\image\repositories.json", b"{}")
    fake.fs.set_owner(ROOT + r"\volumes\shared", owner)
    fake.fs.set_acl(ROOT + r"\volumes\shared", acl)
    inside_before = [row for row in _snapshot(fake.fs) if "\\shared" in row[0]]

    report = backend.host.windows_containers.delete_data(confirm=True)

    assert [(r.path, r.reason) for r in report.refused] == [
        (ROOT + r"\volumes\shared", RefusalReason.UNSAFE_ACL),
        (ROOT + r"\volumes", RefusalReason.NOT_EMPTY),
    ]
    assert [row for row in _snapshot(fake.fs) if "\\shared" in row[0]] == inside_before
    assert fake.fs.listdir(ROOT) == ["volumes"]
    assert report.files_deleted == 1


def test_container_accounts_may_write_inside_the_tree(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(ROOT + r"\volumes\v\_data\x", b"x")
    fake.fs.set_acl(
        ROOT + r"\volumes\v\_data", {ADMINISTRATORS: "FullControl", "S-1-5-93-2-2": "Modify"}
    )
    assert backend.host.windows_containers.delete_data(confirm=True).complete
    assert fake.fs.listdir(ROOT) == []


def test_a_root_with_read_only_rights_for_users_is_accepted(backend: Backend) -> None:
    fake = _fake(backend)
    fake.fs.write_bytes(ROOT + r"\x", b"x")
    fake.fs.set_acl(ROOT, {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl", USERS: "Read"})
    assert backend.host.windows_containers.delete_data(confirm=True).files_deleted == 1


@pytest.mark.parametrize("status", ["Running", "StartPending", "StopPending", "Paused"])
def test_refused_while_the_engine_is_not_stopped(backend: Backend, status: str) -> None:
    fake = _fake(backend)
    _seed_tree(fake.fs)
    fake.services["docker"].status = status
    before = _snapshot(fake.fs)
    with pytest.raises(HostError) as caught:
        backend.host.windows_containers.delete_data(confirm=True)
    assert caught.value.error_id == "DdpermEngineRunning"
    assert status in caught.value.message
    assert _snapshot(fake.fs) == before


def test_allowed_when_the_engine_is_not_installed(backend: Backend) -> None:
    fake = _fake(backend)
    del fake.services["docker"]
    fake.fs.write_bytes(ROOT + r"\x", b"x")
    assert backend.host.windows_containers.delete_data(confirm=True).complete
    assert fake.fs.listdir(ROOT) == []


@pytest.mark.parametrize("confirm", [None, False, "yes", 1, "True", [True]])
def test_confirm_must_be_exactly_true(backend: Backend, confirm: object) -> None:
    fake = _fake(backend)
    _seed_tree(fake.fs)
    before = _snapshot(fake.fs)
    with pytest.raises(PolicyError, match="confirm=True"):
        backend.host.windows_containers.delete_data(confirm=confirm)
    assert fake.calls == []
    assert _snapshot(fake.fs) == before


def test_confirm_cannot_be_left_out(backend: Backend) -> None:
    fake = _fake(backend)
    _seed_tree(fake.fs)
    with pytest.raises(PolicyError, match="nothing was deleted"):
        backend.host.windows_containers.delete_data()
    assert fake.calls == []


def test_the_root_is_never_taken_from_the_caller(backend: Backend) -> None:
    fake = _fake(backend)
    with pytest.raises(TypeError):
        backend.host.windows_containers.delete_data(confirm=True, root=OUTSIDE)  # type: ignore[call-arg]
    assert fake.calls == []


def test_disabled_windows_containers_refuse_delete(make_backend: MakeBackend) -> None:
    fake = FakeHost()
    _seed_tree(fake.fs)
    before = _snapshot(fake.fs)
    backend = make_backend(fake, windows_containers_enabled=False)
    with pytest.raises(PolicyError, match="no-windows-containers"):
        backend.host.windows_containers.delete_data(confirm=True)
    assert fake.calls == []
    assert _snapshot(fake.fs) == before


# -- the twin itself: the script's own ValidateSet pin on the confirmation ----------------


@pytest.mark.parametrize("params", [{}, {"Confirmation": "yes"}, {"Confirmation": True}])
def test_the_script_refuses_without_its_confirmation_token(params: dict[str, object]) -> None:
    fake = FakeHost()
    _seed_tree(fake.fs)
    before = _snapshot(fake.fs)
    with pytest.raises(ErrorRecord) as caught:
        fake.execute("containers_delete_data", params)
    assert caught.value.fqid.split(",")[0] in (
        "MissingMandatoryParameter",
        "ParameterArgumentValidationError",
    )
    assert _snapshot(fake.fs) == before


# -- property: whatever the tree, only what is under the root goes -------------------------

_NAMES = st.sampled_from(["a", "b", "c", "Files", "layer"])
_OUTSIDE_FILES = [r"C:\Users\dev\keep\one.txt", r"C:\Users\dev\keep\deep\two.bin"]
_OUTSIDE_TARGETS = [r"C:\Users\dev\keep", r"C:\Users\dev\keep\deep", r"C:\Windows", *_OUTSIDE_FILES]
_ENTRY = st.tuples(
    st.sampled_from(["file", "dir", "junction", "symlink", "hardlink"]),
    st.lists(_NAMES, min_size=1, max_size=3),
    st.integers(0, 4),
    st.booleans(),
)


def _plant(fs: FakeFileSystem, entry: tuple[str, list[str], int, bool]) -> None:
    kind, parts, pick, readonly = entry
    path = ROOT + "\\" + "\\".join(parts)
    if fs.reparse_points_on(path) or fs.exists(path):
        return  # never create anything through a link (that would land outside the root)
    try:
        if kind == "file":
            fs.write_bytes(path, ("/".join(parts) * (pick + 1)).encode())
            fs.file_data(path).readonly = readonly
        elif kind == "dir":
            fs.mkdir(path)
        elif kind == "hardlink":
            fs.hardlink(path, _OUTSIDE_FILES[pick % len(_OUTSIDE_FILES)])
        else:
            getattr(fs, kind)(path, _OUTSIDE_TARGETS[pick])
    except FsError:
        return  # a parent is a file: Windows would refuse too


@settings(max_examples=60)
@given(st.lists(_ENTRY, max_size=14))
def test_any_tree_is_emptied_and_nothing_outside_changes(
    entries: list[tuple[str, list[str], int, bool]],
) -> None:
    fake = FakeHost()
    for i, path in enumerate(_OUTSIDE_FILES):
        fake.fs.write_bytes(path, f"outside {i}".encode())
    fake.fs.mkdir(ROOT)
    for entry in entries:
        _plant(fake.fs, entry)
    inside = list(fake.fs.walk(ROOT))
    outside_before = [
        (*row[:3], 1, *row[4:]) if row[1] is Kind.FILE else row
        for row in _snapshot(fake.fs)
        if not row[0].startswith(ROOT + "\\")
    ]

    report = twin_host(fake).windows_containers.delete_data(confirm=True)

    assert fake.fs.listdir(ROOT) == []
    assert report.refused == []
    outside_after = [row for row in _snapshot(fake.fs) if not row[0].startswith(ROOT + "\\")]
    assert outside_after == outside_before
    links = [e for e in inside if e.is_reparse_point]
    files = [e for e in inside if e.kind is Kind.FILE]
    assert sorted(report.links_removed) == sorted(e.path for e in links)
    assert report.files_deleted + len(report.hardlinks_unlinked) == len(files)
    assert report.directories_deleted == len(inside) - len(links) - len(files)
    assert report.bytes_freed <= sum(e.size for e in files)


def test_a_folder_swapped_for_a_junction_mid_walk_stops_the_job(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker who turns a folder into a junction between enumeration and descent
    (CVE-2022-38730 style) makes the job stop; nothing outside the root is touched."""
    fake = _fake(backend)
    fake.fs.write_bytes(OUTSIDE + r"\thesis.docx", b"years of work")
    fake.fs.write_bytes(ROOT + r"\a\b\layer.bin", b"layer")
    real_stat = fake.fs.stat
    victim = ROOT + r"\a\b"

    def racing_stat(path: str, *, follow: bool = False) -> Any:
        result = real_stat(path, follow=follow)
        if path.lower() == victim.lower() and result.kind is Kind.DIRECTORY:
            fake.fs.rename(victim, ROOT + r"\a-moved")
            fake.fs.junction(victim, OUTSIDE)
        return result

    monkeypatch.setattr(fake.fs, "stat", racing_stat)
    with pytest.raises(HostError) as caught:
        backend.host.windows_containers.delete_data(confirm=True)
    assert caught.value.error_id == "DdpermReparsePoint"
    assert fake.fs.read_bytes(OUTSIDE + r"\thesis.docx") == b"years of work"
    assert fake.fs.listdir(OUTSIDE) == ["thesis.docx"]


# -- what Windows refuses inside real layers: each entry is reported, none ends the job --------

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"


def test_a_file_an_administrator_cannot_open_is_refused_and_the_rest_is_deleted(
    backend: Backend,
) -> None:
    # Windows PowerShell 5.1 computes LinkType by opening the file for reading: a file whose
    # ACL gives administrators nothing throws there (FileSystemProvider, WinIsHardLink).
    fake = _fake(backend)
    sealed = ROOT + r"\windowsfilter\layer1\Files\Windows\WinSxS\manifest.xml"
    fake.fs.write_bytes(sealed, b"<assembly/>")
    fake.fs.set_acl(sealed, {TRUSTED_INSTALLER: "FullControl"})
    fake.fs.write_bytes(ROOT + r"\windowsfilter\layer2\blob", b"free")

    report = backend.host.windows_containers.delete_data(confirm=True)

    first, *rest = report.refused
    assert (first.path, first.reason) == (sealed, RefusalReason.ACCESS_DENIED)
    assert {r.reason for r in rest} == {RefusalReason.NOT_EMPTY}
    assert fake.fs.exists(sealed)
    assert fake.fs.listdir(ROOT + r"\windowsfilter") == ["layer1"]
    assert report.files_deleted == 1


def _deep_layer_file(fs: FakeFileSystem) -> str:
    folder = ROOT + r"\windowsfilter\0123456789abcdef" * 3 + r"\Files\Windows\WinSxS"
    folder += r"\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.17763.1_none"
    path = (
        folder + r"\0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz.dll"
    )
    fs.write_bytes(path, b"MZ")
    return path


def test_paths_over_max_path_are_refused_in_windows_powershell(backend: Backend) -> None:
    # .NET Framework refuses paths of 260 characters or more (folders: 248) unless long
    # paths are enabled, and they are off by default: 5.1 cannot even list such a folder.
    fake = _fake(backend)
    if fake.edition == "Core":
        pytest.skip("Windows PowerShell 5.1 only: PowerShell 7 (.NET) takes long paths")
    deep = _deep_layer_file(fake.fs)
    fake.fs.write_bytes(ROOT + r"\image\repositories.json", b"{}")

    report = backend.host.windows_containers.delete_data(confirm=True)

    assert len(deep) >= 260
    first, *rest = report.refused
    assert first.reason is RefusalReason.PATH_TOO_LONG
    assert deep.startswith(first.path + "\\")
    assert {r.reason for r in rest} == {RefusalReason.NOT_EMPTY}
    assert fake.fs.exists(deep)
    assert not fake.fs.exists(ROOT + r"\image")


def test_powershell_7_deletes_long_paths(make_backend: MakeBackend) -> None:
    fake = FakeHost()
    fake.edition = "Core"
    deep = _deep_layer_file(fake.fs)
    report = make_backend(fake).host.windows_containers.delete_data(confirm=True)
    assert report.complete
    assert not fake.fs.exists(deep)
    assert fake.fs.listdir(ROOT) == []
