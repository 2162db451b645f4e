"""Who is on the other end of a connection, as the operating system saw them.

On Linux the kernel records the peer's credentials when it connects:
``SO_PEERCRED`` gives pid, uid and primary gid, ``SO_PEERGROUPS`` (Linux 4.13)
the supplementary groups. Both are read from the socket, never from anything the
client says, and never by looking the user up afterwards (that would be racy).
"""

from __future__ import annotations

import errno
import platform
import socket
import struct
import sys
from dataclasses import dataclass

if sys.platform != "win32":
    import grp
    import pwd

_UCRED = struct.Struct("3i")
# Python's socket module does not export it; 59 is <asm-generic/socket.h>, which these
# architectures use. Elsewhere (alpha, mips, parisc, sparc differ) only the primary gid counts.
_GENERIC_SOCKET_H = ("x86_64", "i386", "i686", "aarch64", "arm", "riscv64", "s390x", "ppc64le")
SO_PEERGROUPS: int | None = getattr(
    socket,
    "SO_PEERGROUPS",
    59 if platform.machine().startswith(_GENERIC_SOCKET_H) else None,
)
# CPython caps getsockopt buffers at 1024 bytes: room for 256 gids.
_GROUPS_BUFFER = 1024


@dataclass(frozen=True)
class Peer:
    """A connected client: its account and every group it held when it connected."""

    user: str
    user_id: str
    groups: tuple[str, ...]
    group_ids: tuple[str, ...]
    pid: int | None = None
    is_admin: bool = False

    def in_group(self, group_id: str) -> bool:
        return group_id in self.group_ids


class PeerCredentialError(Exception):
    """The peer's credentials could not be read; the connection is refused."""


def is_authorized(peer: Peer, group_id: str) -> bool:
    """Administrators (root, SYSTEM) and members of the service group may use the service."""
    return peer.is_admin or peer.in_group(group_id)


def unix_peer(sock: socket.socket) -> Peer:
    """The credentials of the process at the other end of a connected AF_UNIX socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    if uid < 0 or gid < 0:
        raise PeerCredentialError("the kernel reported no credentials for this peer")
    gids = [gid, *(g for g in _supplementary_groups(sock) if g != gid)]
    return Peer(
        user=_user_name(uid),
        user_id=str(uid),
        groups=tuple(_group_name(g) for g in gids),
        group_ids=tuple(str(g) for g in gids),
        pid=pid,
        is_admin=uid == 0,
    )


def _supplementary_groups(sock: socket.socket) -> list[int]:
    if SO_PEERGROUPS is None:
        return []
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, _GROUPS_BUFFER)
    except OSError as exc:
        if exc.errno == errno.ENOPROTOOPT:
            return []  # kernel before 4.13: only the primary gid counts (fails closed)
        if exc.errno == errno.ERANGE:
            raise PeerCredentialError("the peer belongs to more groups than can be read") from exc
        raise
    count = len(raw) // 4
    return list(struct.unpack(f"{count}I", raw[: count * 4]))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid:{gid}"
