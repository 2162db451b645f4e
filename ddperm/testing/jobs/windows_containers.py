"""Twin of containers_delete_data.ps1: empty the Windows containers data root, links as links."""

from __future__ import annotations

from typing import Any

from ddperm.components.windows_containers import CONFIRMATION
from ddperm.testing import errors
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import CONTAINERS_DATA_ROOT, FakeHost
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, FakeFileSystem, FsError, FsErrorKind, Kind
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


def _remove_entry(fs: FakeFileSystem, path: str, report: dict[str, Any]) -> None:
    """Twin of ``Remove-DdpermEntry``: one file, link or emptied folder."""
    st = fs.stat(path)
    hardlink = st.kind is Kind.FILE and st.links > 1
    if hardlink and st.readonly:
        report["refused"].append({"path": path, "reason": "ReadOnlyHardlink"})
        return
    try:
        if st.kind is Kind.FILE and st.readonly:
            fs.file_data(path).readonly = False  # only ever a file with this one name
        fs.remove(path)
    except FsError as error:
        if error.kind not in _REFUSALS:
            raise
        report["refused"].append({"path": path, "reason": _REFUSALS[error.kind]})
        return
    if st.is_reparse_point:
        report["links_removed"].append(path)
    elif st.kind is Kind.DIRECTORY:
        report["directories_deleted"] += 1
    elif hardlink:
        report["hardlinks_unlinked"].append(path)
    else:
        report["files_deleted"] += 1
        report["bytes_freed"] += st.size


def _clear(fs: FakeFileSystem, folder: str, report: dict[str, Any]) -> bool:
    """Twin of ``Clear-DdpermFolder``: empty a real folder; True when it is now empty."""
    assert_no_link(fs, folder, "Windows containers data folder")
    before = len(report["refused"])
    for name in fs.listdir(folder):
        path = folder + "\\" + name
        if fs.stat(path).kind is Kind.DIRECTORY:
            if acl_problem(fs, path):
                report["refused"].append({"path": path, "reason": "UnsafeAcl"})
                continue
            if not _clear(fs, path, report):
                report["refused"].append({"path": path, "reason": "NotEmpty"})
                continue
        _remove_entry(fs, path, report)
    return len(report["refused"]) == before


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
    _clear(host.fs, root, report)
    return report
