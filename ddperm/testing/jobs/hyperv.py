"""Twin of the VM and VHDX scripts (vm_*.ps1, vhd_*.ps1) and of lib/Paths.ps1."""

from __future__ import annotations

import re

from ddperm.guard import SYSTEM_FOLDERS
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fs import FakeFileSystem, join, split

_SHAPE = re.compile(r"^[A-Za-z]:\\")
_BAD = re.compile(r'[\x00-\x1f<>"|?*/]')


def _path_error(fqid: str, message: str, target: str) -> ErrorRecord:
    return ErrorRecord(message, fqid, "SecurityError", target, "System.InvalidOperationException")


def assert_safe_path(fs: FakeFileSystem, path: str, what: str = "path") -> str:
    """Twin of ``Assert-DdpermSafePath`` (lib/Paths.ps1): the full path, or the error it throws.

    DdpermUnsafePath for a bad string, DdpermReparsePoint when any existing component
    (the last one and dangling links included) is a junction or symlink, DdpermSystemPath
    when the final path lies in a system folder. Reusable by every twin that deletes or moves.
    """
    parts = [p for p in path[3:].split("\\") if p] if _SHAPE.match(path) else []
    shape_ok = bool(parts) and not _BAD.search(path) and ":" not in path[2:]
    if not shape_ok or any(
        p in (".", "..") or re.search(r"~[0-9]", p) or p[-1] in ". " for p in parts
    ):
        raise _path_error(
            "DdpermUnsafePath",
            f"The {what} is not an absolute local path ddperm may use: '{path}'.",
            path,
        )
    links = fs.reparse_points_on(path)
    if links:
        raise _path_error(
            "DdpermReparsePoint",
            f"Refusing the {what} '{path}': '{links[0]}' is a junction, symbolic link "
            "or mount point.",
            links[0],
        )
    drive, _ = split(path)
    full = join(drive, parts)
    relative = full[2:].lower()
    for folder in SYSTEM_FOLDERS:
        if relative == folder or relative.startswith(folder + "\\"):
            raise _path_error(
                "DdpermSystemPath",
                f"Refusing the {what} '{path}': it is inside the system folder '{folder}'.",
                full,
            )
    return full
