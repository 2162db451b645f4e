"""Shared helpers for the service tests (no tests here): run the service on a socket."""

from __future__ import annotations

import grp
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddperm.service import AuditLog, Client, Limits, Service, running
from ddperm.service.framing import MAX_RESPONSE_BYTES, read_frame
from ddperm.service.unix_socket import SocketStream
from ddperm.testing import FakeHost, twin_host


@dataclass
class Running:
    path: str
    fake: FakeHost
    audit_path: Path
    service: Service

    def client(self, timeout: float = 30.0) -> Client:
        return Client(self.path, timeout=timeout)

    def audit(self, event: str = "request") -> list[dict[str, Any]]:
        lines = self.audit_path.read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == event]

    def raw(self, data: bytes, *, timeout: float = 30.0) -> dict[str, Any] | None:
        """Send raw bytes on a fresh connection; the one response frame, or None if closed."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)
        stream = SocketStream(sock, timeout)
        try:
            stream.sendall(data)
            body = read_frame(stream, limit=MAX_RESPONSE_BYTES, timeout=timeout)
        finally:
            stream.close()
        return None if body is None else json.loads(body)


def own_group() -> str:
    return grp.getgrgid(os.getegid()).gr_name


@contextmanager
def serve_twin(
    directory: Path,
    *,
    fake: FakeHost | None = None,
    group: str | None = None,
    windows_containers_enabled: bool = True,
    limits: Limits | None = None,
    socket_path: Path | None = None,
    audit_options: dict[str, Any] | None = None,
) -> Iterator[Running]:
    """The service over a twin host on a socket under ``directory``."""
    fake = fake if fake is not None else FakeHost()
    path = socket_path or directory / "run" / "ddperm.sock"
    audit_path = directory / "audit.jsonl"
    with running(
        lambda: twin_host(fake, windows_containers_enabled=windows_containers_enabled),
        address=str(path),
        audit_log=AuditLog.open(audit_path, **audit_options) if audit_options else audit_path,
        group=group or own_group(),
        windows_containers_enabled=windows_containers_enabled,
        limits=limits,
    ) as service:
        yield Running(str(path), fake, audit_path, service)
