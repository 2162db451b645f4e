"""The audit log: one JSON line per request, refused connection, and start or stop.

Each record says who asked (user and groups as the operating system reported
them), which route, the parameters after validation (never raw request bytes),
the outcome and how long it took.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ddperm.service.peer import Peer


class AuditLog:
    """Appends JSON lines to a file the service alone can write (created 0600, no symlinks)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> AuditLog:
        target = Path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
