"""Start the service on this platform's transport: a named pipe on Windows, else a Unix socket."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from ddperm.host import Host
from ddperm.service.admission import Limits
from ddperm.service.audit import AuditLog
from ddperm.service.server import DEFAULT_GROUP, Service

HostFactory = Callable[[], Host]


class Listener(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def make_listener(
    service: Service, address: str, group: str, inherited: socket.socket | None = None
) -> Listener:
    if sys.platform == "win32":
        from ddperm.service.windows_pipe import PipeListener

        return PipeListener(service, address, group)
    from ddperm.service.unix_socket import UnixListener

    return UnixListener(service, address, group, inherited=inherited)


@contextmanager
def running(
    host_factory: HostFactory,
    *,
    address: str,
    audit_log: str | Path | AuditLog,
    group: str = DEFAULT_GROUP,
    windows_containers_enabled: bool = True,
    limits: Limits | None = None,
    inherited: socket.socket | None = None,
) -> Iterator[Service]:
    """Run the service until the ``with`` block ends; the host comes from ``host_factory``.

    ``inherited`` is a listening socket systemd passed (``ddperm serve --systemd``).
    """
    audit = audit_log if isinstance(audit_log, AuditLog) else AuditLog.open(audit_log)
    try:
        with host_factory() as host:
            service = Service(
                host, audit, windows_containers_enabled=windows_containers_enabled, limits=limits
            )
            listener = make_listener(service, address, group, inherited)
            listener.start()
            try:
                yield service
            finally:
                listener.stop()
    finally:
        audit.close()
