"""The audit log: one JSON line per request, refused connection, and start or stop.

Each record says who asked (user and groups as the operating system reported
them), which route, the parameters after validation (never raw request bytes),
the outcome and how long it took.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ddperm.service.errors import ServiceStartError
from ddperm.service.peer import Peer


class AuditLog:
    """Appends JSON lines to a file the service alone can write (created 0600, no symlinks)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> AuditLog:
        """Open for appending, in a directory only administrators control (made if missing)."""
        target = Path(path)
        private_directory(target.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o600)
        return cls(os.fdopen(fd, "a", encoding="utf-8"))

    def record(self, event: str, *, peer: Peer | None = None, **fields: Any) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "event": event,
        }
        if peer is not None:
            entry["peer"] = asdict(peer)
        entry.update(fields)
        line = json.dumps(entry, separators=(",", ":"), default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            self._stream.close()


if sys.platform == "win32":
    import pywintypes
    import win32file
    import win32security

    # SYSTEM and Administrators only, not inherited: C:\\ProgramData lets users create
    # files in subfolders, so an inherited ACL would let them plant or edit the log.
    _ADMINS_ONLY = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    _TRUSTED_OWNERS = ("S-1-5-18", "S-1-5-32-544")
    _SE_DACL_PROTECTED = 0x1000
    _REPARSE_POINT = 0x400

    def private_directory(directory: Path) -> None:
        """Create ``directory`` admin-only, or refuse one a user made or could change."""
        if not directory.exists():
            directory.parent.mkdir(parents=True, exist_ok=True)
            attributes = pywintypes.SECURITY_ATTRIBUTES()
            attributes.SECURITY_DESCRIPTOR = (
                win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
                    _ADMINS_ONLY, win32security.SDDL_REVISION_1
                )
            )
            win32file.CreateDirectory(str(directory), attributes)
        if win32file.GetFileAttributes(str(directory)) & _REPARSE_POINT:
            raise ServiceStartError(f"{directory} is a junction or link; refusing to log there")
        wanted = win32security.OWNER_SECURITY_INFORMATION | win32security.DACL_SECURITY_INFORMATION
        descriptor = win32security.GetFileSecurity(str(directory), wanted)
        owner = win32security.ConvertSidToStringSid(descriptor.GetSecurityDescriptorOwner())
        control, _revision = descriptor.GetSecurityDescriptorControl()
        if owner not in _TRUSTED_OWNERS or not control & _SE_DACL_PROTECTED:
            raise ServiceStartError(
                f"{directory} is owned by {owner} or inherits its ACL; an administrator "
                "must remove it so the service can create it admin-only"
            )

else:

    def private_directory(directory: Path) -> None:
        """Create ``directory`` 0700, or refuse one another user owns or others can write."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise ServiceStartError(f"{directory} is not a plain directory")
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ServiceStartError(f"{directory} can be changed by other users; not logging there")
