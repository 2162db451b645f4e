"""The POSIX listener: an AF_UNIX socket owned root:<group>, mode 0660, in a safe directory.

Defences, in order: the socket's directory and every ancestor must be owned by
root (or the service's own user) and not writable by others (a sticky ancestor
such as /tmp is fine), so nobody can replace the socket; a live socket already
at the path means someone else is serving there, so the service refuses to start
(the POSIX twin of squatting, CVE-2020-11492); the socket is bound with a umask
that leaves it owner-only until it has its final owner, group and mode; and every
accepted connection is checked with the kernel's record of the peer
(``SO_PEERCRED`` + ``SO_PEERGROUPS``).
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
import threading
from pathlib import Path

from ddperm.service.errors import ServiceStartError
from ddperm.service.peer import PeerCredentialError, unix_peer
from ddperm.service.safe_paths import check_directory, check_existing_components
from ddperm.service.server import Service
from ddperm.service.systemd import check_inherited

SOCKET_MODE = 0o660
_STOP_GRACE_SECONDS = 60.0


class SocketStream:
    """A connected socket as a framing ``Stream``; writes share the read deadline."""

    def __init__(self, sock: socket.socket, write_timeout: float) -> None:
        self.sock = sock
        self.write_timeout = write_timeout

    def recv(self, size: int, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(self.write_timeout)
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def prepare_directory(directory: Path) -> Path:
    """The socket directory, resolved: checked as given before anything is made in it."""
    check_existing_components(directory)
    resolved = Path(os.path.realpath(directory))
    if not resolved.exists():
        resolved.mkdir(parents=True)
        resolved.chmod(0o755)  # whatever the umask: members must reach the socket
    check_existing_components(directory)
    check_directory(resolved)
    return resolved


def refuse_if_in_use(path: Path) -> None:
    """Remove a stale socket; refuse a live one or anything that is not a socket."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ServiceStartError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # stale: nobody listens any more
        return
    finally:
        probe.close()
    raise ServiceStartError(f"another process is already serving on {path}; refusing to start")


def bind_socket(path: Path, gid: int) -> tuple[socket.socket, Path]:
    """A listening socket at ``path``, owned by this user and ``gid``, mode 0660; and where it
    really is (the resolved path, which ``stop`` removes)."""
    path = prepare_directory(path.parent) / path.name
    refuse_if_in_use(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # owner-only until owner, group and mode are final
    try:
        sock.bind(str(path))
    finally:
        os.umask(previous)
    try:
        os.chown(path, os.geteuid(), gid)
        os.chmod(path, SOCKET_MODE)
    except PermissionError as exc:
        sock.close()
        path.unlink(missing_ok=True)
        raise ServiceStartError(f"cannot give {path} to group id {gid}: {exc}") from exc
    sock.listen(128)
    return sock, path


class UnixListener:
    """Accepts connections, checks each peer, and serves each on its own thread."""

    def __init__(
        self,
        service: Service,
        path: str | os.PathLike[str],
        group: str,
        *,
        inherited: socket.socket | None = None,
    ) -> None:
        self.service = service
        self.path = Path(path)
        self._inherited = inherited
        self.group = group
        self.gid = group_id(group)
        self._sock: socket.socket | None = None
        self._bound: tuple[Path, int] | None = None  # resolved path and inode of our socket
        self._stop = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()

    def start(self) -> None:
        if self._inherited is not None:  # systemd made it, and removes it (RemoveOnStop)
            self.path = check_inherited(self._inherited, self.gid)
            prepare_directory(self.path.parent)
            self._sock = self._inherited
        else:
            self._sock, bound = bind_socket(self.path, self.gid)
            self._bound = (bound, bound.lstat().st_ino)
        self._sock.settimeout(0.2)
        self._accept_thread = threading.Thread(
            target=self._accept_loop, args=(self._sock,), daemon=True
        )
        self._accept_thread.start()
        self.service.audit.record("start", address=str(self.path), group=self.group)

    def stop(self) -> None:
        """Stop accepting, end idle connections, and let running jobs finish."""
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join()
        if self._sock is not None:
            self._sock.close()
            self._remove_own_socket()
        with self._open_lock:
            open_now = dict(self._open)
        for conn, thread in open_now.items():
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RD)  # a blocked read ends; a job's answer still goes out
            thread.join(_STOP_GRACE_SECONDS)
        self.service.audit.record("stop", address=str(self.path))

    def _remove_own_socket(self) -> None:
        """Remove the socket this listener bound, never whatever the given path leads to now."""
        if self._bound is None:
            return
        path, inode = self._bound
        with contextlib.suppress(FileNotFoundError):
            info = path.lstat()
            if stat.S_ISSOCK(info.st_mode) and info.st_ino == inode:
                path.unlink()

    def _accept_loop(self, listening: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listening.accept()
            except TimeoutError:
                continue
            except OSError:  # e.g. out of file descriptors: back off instead of spinning
                self._stop.wait(0.1)
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._open_lock:
                self._open[conn] = thread
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        stream = SocketStream(conn, self.service.limits.read_timeout)
        try:
            try:
                peer = unix_peer(conn)
            except (OSError, PeerCredentialError) as exc:
                self.service.audit.record("connection_refused", reason=f"no credentials: {exc}")
                stream.close()
                return
            self.service.serve_client(stream, peer, group_id=str(self.gid), group=self.group)
        finally:
            with self._open_lock:
                self._open.pop(conn, None)


def group_id(name: str) -> int:
    """The gid of group ``name``; the service does not start without its group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ServiceStartError(
            f"group {name!r} does not exist; create it (groupadd {name}) or pass --group"
        ) from None
