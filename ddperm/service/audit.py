"""The audit log: one JSON line per request, refused connection, and start or stop.

Each record says who asked (user and groups as the operating system reported
them), which route, the parameters after validation (never raw request bytes),
the outcome and how long it took.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import threading
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ddperm.service.admission import TokenBucket
from ddperm.service.errors import ServiceStartError
from ddperm.service.peer import Peer

REFUSAL_TEXT_LIMIT = 200
"""Characters of free text (error messages, which may quote the caller) kept per refusal."""


class AuditLog:
    """Appends JSON lines to a file the service alone can write (created 0600, no symlinks).

    Every request that ran is written whole. Refusals (connections turned away, requests
    that never ran) are rate limited per account, with one ``suppressed`` line saying how
    many were dropped, and their free text is truncated, so no client can fill the disk.
    A log opened from a path rotates at ``max_bytes`` and keeps ``backups`` old files.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        path: Path | None = None,
        max_bytes: int = 10 * 2**20,
        backups: int = 5,
        refusals_per_second: float = 5.0,
        refusal_burst: int = 50,
    ) -> None:
        self._stream = stream
        self._path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._size = _size_of(stream)
        self._lock = threading.Lock()
        self._refusals = TokenBucket(refusals_per_second, refusal_burst)
        self._dropped: Counter[str] = Counter()

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: Any) -> AuditLog:
        """Open for appending, in a directory only administrators control (made if missing)."""
        target = Path(path)
        private_directory(target.parent)
        return cls(_open_append(target), path=target, **options)

    def record(self, event: str, *, peer: Peer | None = None, **fields: Any) -> None:
        """Write one line, always."""
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "event": event,
        }
        if peer is not None:
            entry["peer"] = asdict(peer)
        entry.update(fields)
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()
            self._size += len(line.encode("utf-8"))
            if self._path is not None and self._size >= self._max_bytes:
                self._rotate(self._path)

    def refusal(self, event: str, *, peer: Peer | None = None, **fields: Any) -> None:
        """Write a line about something that did not run: rate limited per account, truncated."""
        key = peer.user_id if peer is not None else "?"
        if not self._refusals.take(key):
            with self._lock:
                self._dropped[key] += 1
            return
        with self._lock:
            dropped = self._dropped.pop(key, 0)
        if dropped:
            self.record("suppressed", peer=peer, dropped=dropped)
        self.record(event, peer=peer, **{k: _truncate(v) for k, v in fields.items()})

    def close(self) -> None:
        with self._lock:
            dropped, self._dropped = dict(self._dropped), Counter()
        for key, count in dropped.items():
            self.record("suppressed", account=key, dropped=count)
        with self._lock:
            self._stream.close()

    def _rotate(self, path: Path) -> None:
        """audit.jsonl -> .1 -> .2 ...; the oldest beyond ``backups`` is removed."""
        self._stream.close()
        for index in range(self._backups, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            newer = path if index == 1 else path.with_name(f"{path.name}.{index - 1}")
            if newer.exists():
                os.replace(newer, older)
        if self._backups == 0:
            path.unlink(missing_ok=True)
        self._stream = _open_append(path)
        self._size = 0


def _open_append(path: Path) -> TextIO:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o600), "a", encoding="utf-8")


def _size_of(stream: TextIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        return 0


def _truncate(value: Any) -> Any:
    if isinstance(value, str) and len(value) > REFUSAL_TEXT_LIMIT:
        return f"{value[:REFUSAL_TEXT_LIMIT]}... ({len(value)} characters)"
    return value


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
    from ddperm.service.safe_paths import check_directory, check_existing_components

    def private_directory(directory: Path) -> None:
        """Create ``directory`` 0700, or refuse it when another user could change it or any
        directory or link on the way to it."""
        check_existing_components(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise ServiceStartError(f"{directory} is not a plain directory")
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ServiceStartError(f"{directory} can be changed by other users; not logging there")
        check_existing_components(directory)
        check_directory(directory)
