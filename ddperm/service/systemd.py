"""Linux: the service as a systemd socket unit plus a service unit, and the socket it inherits.

systemd owns the socket (``SocketUser=root``, ``SocketGroup=<group>``, ``SocketMode=0660``)
and starts ``ddperm serve --systemd`` on the first connection; the service takes the
listening socket from the ``sd_listen_fds`` protocol (``LISTEN_PID``, ``LISTEN_FDS``,
descriptors from 3: systemd's sd_listen_fds(3) man page) instead of binding one itself.
"""

from __future__ import annotations

import os
import shlex
import socket
import stat
from collections.abc import Mapping
from pathlib import Path

from ddperm.service.errors import ServiceStartError
from ddperm.service.settings import ServiceSettings

UNIT = "ddperm"
UNIT_DIR = Path("/etc/systemd/system")
SD_LISTEN_FDS_START = 3


def unit_files(settings: ServiceSettings, command: list[str]) -> dict[str, str]:
    """``ddperm.socket`` and ``ddperm.service`` for ``settings``; ``command`` runs ddperm."""
    serve = [*command, "serve", "--systemd", *settings.serve_arguments()]
    socket_unit = f"""\
[Unit]
Description=ddperm privileged helper socket (Docker Desktop's helper jobs)

[Socket]
ListenStream={settings.address}
SocketUser=root
SocketGroup={settings.group}
SocketMode=0660
DirectoryMode=0755
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
"""
    service_unit = f"""\
[Unit]
Description=ddperm privileged helper (Docker Desktop's helper jobs)
Requires={UNIT}.socket
After={UNIT}.socket

[Service]
Type=simple
ExecStart={shlex.join(serve)}
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
PrivateTmp=yes

[Install]
Also={UNIT}.socket
"""
    return {f"{UNIT}.socket": socket_unit, f"{UNIT}.service": service_unit}


def inherited_socket(environ: Mapping[str, str] | None = None) -> socket.socket | None:
    """The listening socket systemd passed (sd_listen_fds), or None when it passed none."""
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()):
        return None
    try:
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        raise ServiceStartError("LISTEN_FDS is not a number") from None
    if count != 1:
        raise ServiceStartError(f"expected one socket from systemd, got {count}")
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ServiceStartError("the socket systemd passed is not a Unix stream socket")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ServiceStartError("the socket systemd passed is not listening (Accept=no needed)")
    return sock


def check_inherited(sock: socket.socket, gid: int) -> Path:
    """Refuse an inherited socket whose file is not root's (or ours), ``gid``'s, mode 0660."""
    path = Path(sock.getsockname())
    info = path.lstat()
    if not stat.S_ISSOCK(info.st_mode):
        raise ServiceStartError(f"{path} is not the socket systemd passed")
    if info.st_uid not in (0, os.geteuid()) or info.st_gid != gid:
        raise ServiceStartError(f"{path} is owned by {info.st_uid}:{info.st_gid}, not root:{gid}")
    if stat.S_IMODE(info.st_mode) != 0o660:
        raise ServiceStartError(f"{path} has mode {stat.S_IMODE(info.st_mode):o}, not 660")
    return path
