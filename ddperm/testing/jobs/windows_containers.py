"""Twin of containers_delete_data.ps1: empty the Windows containers data root, links as links.

What Windows refuses inside real layers is modelled entry by entry, and each refusal is
reported while the walk goes on: a path over MAX_PATH in Windows PowerShell 5.1
(``FakeHost.edition``), a file the caller may not open (LinkType opens it), one held open
without sharing, an entry the caller may not delete, a folder it may not list.
"""

from __future__ import annotations

from typing import Any

from ddperm.components.windows_containers import CONFIRMATION
from ddperm.testing import errors
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import CONTAINERS_DATA_ROOT, FakeHost
from ddperm.testing.fs import (
    ADMINISTRATORS,
    SYSTEM,
    FakeFileSystem,
    FsError,
    FsErrorKind,
    Kind,
    Stat,
    parent_of,
)
from ddperm.testing.jobs.engine import engine_status
from ddperm.testing.jobs.hyperv import assert_no_link, assert_safe_path

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
CONTAINER_ACCOUNTS = ("S-1-5-93-2-1", "S-1-5-93-2-2")  # ContainerAdministrator, ContainerUser
TRUSTED = frozenset({SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER, *CONTAINER_ACCOUNTS})
READ_ONLY_RIGHTS = frozenset({"Read", "ReadAndExecute", "ListDirectory"})
_REFUSALS = {FsErrorKind.ACCESS_DENIED: "AccessDenied", FsErrorKind.SHARING_VIOLATION: "InUse"}


def acl_problem(fs: FakeFileSystem, folder: str) -> str:
    """Twin of ``Get-DdpermAclProblem``: why a non-administrator could change what is in
    ``folder`` (its owner, or a write right in its effective ACL), or ""."""
    owner = fs.owner(folder)
    if owner not in TRUSTED:
        return f"it is owned by {owner}, not by an administrator (pre-created by a user?)"
    for sid, rights in fs.acl(folder).items():
        if sid not in TRUSTED and rights not in READ_ONLY_RIGHTS:
            return f"{sid} may write to it ({rights})"
    return ""


MAX_PATH = 260  # .NET Framework: a full path must be shorter, a folder's shorter than 248
_MAX_FOLDER = 248
_WRITE = frozenset({"Modify", "FullControl"})


class Refusal(Exception):
    """Windows refused to list, read or delete one entry; the script reports ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _rights(host: FakeHost, path: str) -> set[str]:
    """What the caller's token holds on ``path`` (a filtered token has no Administrators)."""
    sids = {host.caller.sid, *host.caller.groups}
    if not host.caller.elevated:
        sids.discard(ADMINISTRATORS)
    acl = host.fs.acl(path)
    return {acl[sid] for sid in sids if sid in acl}


def _check_length(host: FakeHost, path: str, *, folder: bool) -> None:
    """Windows PowerShell 5.1 (.NET Framework, long paths off by default) refuses a path
    that long; PowerShell 7 (.NET) does not."""
    if host.edition == "Desktop" and len(path) >= (_MAX_FOLDER if folder else MAX_PATH):
        raise Refusal("PathTooLong")


def _listing(host: FakeHost, folder: str) -> list[Stat]:
    """``Get-ChildItem -LiteralPath $Folder -Force``: each child as it was when listed. The
    enumeration fails as a whole on a child path over the limit, or without read access."""
    if not _rights(host, folder):
        raise Refusal("AccessDenied")
    children = [host.fs.stat(folder + "\\" + name) for name in host.fs.listdir(folder)]
    for child in children:
        _check_length(host, child.path, folder=child.kind is Kind.DIRECTORY)
    return children


def _is_hardlink(host: FakeHost, path: str) -> bool:
    """``$item.LinkType -eq 'HardLink'`` for a file: 5.1 opens it for reading (GENERIC_READ,
    sharing read, write and delete) to count its names, which fails on a file the caller may
    not read or that another program holds open without sharing."""
    if not _rights(host, path):
        raise Refusal("AccessDenied")
    if host.fs.stat(path).locked:
        raise Refusal("InUse")
    return host.fs.stat(path).links > 1


def _delete(host: FakeHost, path: str) -> None:
    """File.Delete / Directory.Delete: DELETE on the entry or FILE_DELETE_CHILD on its folder."""
    if not (_rights(host, path) & _WRITE or "FullControl" in _rights(host, parent_of(path))):
        raise Refusal("AccessDenied")
    try:
        host.fs.remove(path)
    except FsError as error:
        if error.kind not in _REFUSALS:
            raise
        raise Refusal(_REFUSALS[error.kind]) from None


def _remove_entry(host: FakeHost, st: Stat, report: dict[str, Any]) -> None:
    """Twin of ``Remove-DdpermEntry``: one file, link or emptied folder, or its refusal."""
    try:
        hardlink = st.kind is Kind.FILE and _is_hardlink(host, st.path)
        if hardlink and st.readonly:
            raise Refusal("ReadOnlyHardlink")
        if st.kind is Kind.FILE and st.readonly:
            host.fs.file_data(st.path).readonly = False  # only ever a file with this one name
        _delete(host, st.path)
    except Refusal as refusal:
        report["refused"].append({"path": st.path, "reason": refusal.reason})
        return
    if st.is_reparse_point:
        report["links_removed"].append(st.path)
    elif st.kind is Kind.DIRECTORY:
        report["directories_deleted"] += 1
    elif hardlink:
        report["hardlinks_unlinked"].append(st.path)
    else:
        report["files_deleted"] += 1
        report["bytes_freed"] += st.size


def _folder_refusal(host: FakeHost, folder: str) -> str | None:
    """Twin of ``Get-DdpermFolderRefusal``: why a folder inside the root is not entered."""
    if not _rights(host, folder):
        return "AccessDenied"  # Get-Acl cannot read it
    return "UnsafeAcl" if acl_problem(host.fs, folder) else None


def _clear(host: FakeHost, folder: str, report: dict[str, Any]) -> str | None:
    """Twin of ``Clear-DdpermFolder``: empty a real folder; None when it is empty now, else
    why not (``NotEmpty``, or why it could not be listed)."""
    assert_no_link(host.fs, folder, "Windows containers data folder")
    try:
        children = _listing(host, folder)
    except Refusal as refusal:
        return refusal.reason
    before = len(report["refused"])
    for child in children:
        if child.kind is Kind.DIRECTORY:
            reason = _folder_refusal(host, child.path) or _clear(host, child.path, report)
            if reason is not None:
                report["refused"].append({"path": child.path, "reason": reason})
                continue
        _remove_entry(host, child, report)
    return None if len(report["refused"]) == before else "NotEmpty"


@handles("containers_delete_data")
def containers_delete_data(host: FakeHost, Confirmation: str) -> dict[str, Any]:
    if str(Confirmation).lower() != CONFIRMATION.lower():
        raise errors.validate_set_failed(
            "containers_delete_data", "Confirmation", Confirmation, [CONFIRMATION]
        )
    root = CONTAINERS_DATA_ROOT
    report: dict[str, Any] = {
        "root": root,
        "root_existed": False,
        "files_deleted": 0,
        "directories_deleted": 0,
        "bytes_freed": 0,
        "links_removed": [],
        "hardlinks_unlinked": [],
        "refused": [],
    }
    engine = engine_status(host)
    if engine["installed"] and engine["status"] != "Stopped":
        raise ErrorRecord(
            f"The Windows Docker engine is {engine['status']}; stop it before deleting its data.",
            "DdpermEngineRunning",
            "ResourceBusy",
            root,
            "System.InvalidOperationException",
        )
    root = assert_safe_path(host.fs, root, "Windows containers data root")
    if not host.fs.exists(root) or host.fs.stat(root).kind is not Kind.DIRECTORY:
        return report
    report["root_existed"] = True
    problem = acl_problem(host.fs, root)
    if problem:
        raise ErrorRecord(
            f"Refusing to delete under '{root}': {problem}.",
            "DdpermUnsafeAcl",
            "SecurityError",
            root,
            "System.InvalidOperationException",
        )
    reason = _clear(host, root, report)
    if reason not in (None, "NotEmpty"):
        report["refused"].append({"path": root, "reason": reason})
    return report
