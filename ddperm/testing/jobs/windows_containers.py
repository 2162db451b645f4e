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
from ddperm.testing.jobs.hyperv import assert_safe_path

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
TRUSTED = frozenset({SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER})
READ_ONLY_RIGHTS = frozenset({"Read", "ReadAndExecute", "ListDirectory"})
_REFUSALS = {FsErrorKind.ACCESS_DENIED: "AccessDenied", FsErrorKind.SHARING_VIOLATION: "InUse"}


def _unsafe_acl(message: str) -> ErrorRecord:
    return ErrorRecord(
        message,
        "DdpermUnsafeAcl",
        "SecurityError",
        CONTAINERS_DATA_ROOT,
        "System.InvalidOperationException",
    )


def _check_root_acl(fs: FakeFileSystem, root: str) -> None:
    """Only SYSTEM, Administrators and TrustedInstaller may own or write the root."""
    owner = fs.owner(root)
    if owner not in TRUSTED:
        raise _unsafe_acl(
            f"Refusing to delete under '{root}': it is owned by {owner}, not by an "
            "administrator (pre-created by a user?)."
        )
    for sid, rights in fs.acl(root).items():
        if sid not in TRUSTED and rights not in READ_ONLY_RIGHTS:
            raise _unsafe_acl(
                f"Refusing to delete under '{root}': {sid} may write to it ({rights})."
            )


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
    assert_safe_path(fs, folder, "Windows containers data folder")
    before = len(report["refused"])
    for name in fs.listdir(folder):
        path = folder + "\\" + name
        if fs.stat(path).kind is Kind.DIRECTORY and not _clear(fs, path, report):
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
    _check_root_acl(host.fs, root)
    _clear(host.fs, root, report)
    return report
