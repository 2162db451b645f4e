"""The Windows listener: a named pipe only SYSTEM, Administrators and the service group can open.

The security descriptor and the flags are plain functions and constants, so they
are tested on any platform; the pipe itself (pywin32) only exists on Windows.

- Explicit DACL, protected from inheritance, never the default one (which lets
  Everyone and Anonymous read): SYSTEM and Administrators full control, the group
  read and write *without* ``FILE_CREATE_PIPE_INSTANCE`` (``GENERIC_WRITE`` would
  include it and let a member host rogue instances of our pipe), and network
  logons denied outright.
- ``FILE_FLAG_FIRST_PIPE_INSTANCE``: if anyone created the pipe first (squatting,
  CVE-2020-11492), creation fails and the service refuses to start.
- ``PIPE_REJECT_REMOTE_CLIENTS``: remote clients are rejected by the kernel.
- In code, on every connection: impersonate the client (a failure drops the
  connection before anything runs), then ``CheckTokenMembership`` on its token.
- As a client, ddperm opens pipes with ``SECURITY_SQOS_PRESENT |
  SECURITY_IDENTIFICATION`` so a squatting server cannot act as the caller.
"""

from __future__ import annotations

import re
import sys

SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"

# Windows SDK values (winbase.h, winnt.h, fileapi.h).
PIPE_ACCESS_DUPLEX = 0x00000003
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
FILE_FLAG_OVERLAPPED = 0x40000000
PIPE_TYPE_BYTE = 0x00000000
PIPE_READMODE_BYTE = 0x00000000
PIPE_WAIT = 0x00000000
PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
SECURITY_SQOS_PRESENT = 0x00100000
SECURITY_IDENTIFICATION = 0x00010000
# FILE_GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA: read and
# write, but not FILE_APPEND_DATA, which on a pipe is FILE_CREATE_PIPE_INSTANCE.
GROUP_PIPE_RIGHTS = 0x0012019B

_SID = re.compile(r"^S-1-[0-9]{1,14}(-[0-9]{1,10}){1,15}$")
# A group an administrator created, local or domain: S-1-5-21-<3 sub-authorities>-<RID>,
# with a RID from 1000 up. Every well-known SID (Everyone S-1-1-0, Authenticated Users
# S-1-5-11, Users S-1-5-32-545, INTERACTIVE S-1-5-4, ANONYMOUS LOGON S-1-5-7, ALL
# APPLICATION PACKAGES S-1-15-2-1, ...) and every well-known domain RID below 1000
# (Domain Users -513, Domain Computers -515, ...) is refused: each lets in far more
# accounts than the helper's docker-users. Microsoft's "Well-known SIDs" page lists them.
_DEDICATED_GROUP = re.compile(r"^S-1-5-21(-[0-9]{1,10}){3}-([0-9]{1,10})$")
_FIRST_CREATED_RID = 1000


def pipe_sddl(group_sid: str) -> str:
    """The pipe's security descriptor in SDDL, for the service group ``group_sid``."""
    if not _SID.fullmatch(group_sid):
        raise ValueError(f"not a SID string: {group_sid!r}")
    dedicated = _DEDICATED_GROUP.fullmatch(group_sid)
    if dedicated is None or int(dedicated.group(2)) < _FIRST_CREATED_RID:
        raise ValueError(
            f"the service group must be a dedicated group (like docker-users), not {group_sid}, "
            "a built-in or well-known group that lets in far more accounts"
        )
    return (
        "D:P"
        "(D;;GA;;;NU)"  # network logons: denied
        "(A;;GA;;;SY)"
        "(A;;GA;;;BA)"
        f"(A;;0x{GROUP_PIPE_RIGHTS:08x};;;{group_sid})"
    )


def server_open_mode(*, first: bool) -> int:
    mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED
    return mode | FILE_FLAG_FIRST_PIPE_INSTANCE if first else mode


def server_pipe_mode() -> int:
    return PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS


def client_open_flags() -> int:
    return FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION


if sys.platform == "win32":
    import contextlib
    import os
    import threading
    from typing import Any

    import pywintypes
    import win32api
    import win32event
    import win32file
    import win32pipe
    import win32security
    import winerror

    from ddperm.service.errors import ServiceStartError
    from ddperm.service.framing import FrameError
    from ddperm.service.peer import Peer
    from ddperm.service.server import Service

    _GONE = (winerror.ERROR_BROKEN_PIPE, winerror.ERROR_PIPE_NOT_CONNECTED, winerror.ERROR_NO_DATA)
    _SE_GROUP_ENABLED = 0x4
    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000

    def lookup_group_sid(name: str) -> str:
        try:
            sid, _domain, _kind = win32security.LookupAccountName(None, name)
        except pywintypes.error as exc:
            raise ServiceStartError(f"group {name!r} does not exist: {exc.strerror}") from exc
        return str(win32security.ConvertSidToStringSid(sid))

    def _security_attributes(group_sid: str) -> Any:
        descriptor = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
            pipe_sddl(group_sid), win32security.SDDL_REVISION_1
        )
        attributes = pywintypes.SECURITY_ATTRIBUTES()
        attributes.SECURITY_DESCRIPTOR = descriptor
        attributes.bInheritHandle = False
        return attributes

    def _overlapped() -> Any:
        overlapped = pywintypes.OVERLAPPED()
        overlapped.hEvent = win32event.CreateEvent(None, True, False, None)
        return overlapped

    class PipeStream:
        """One pipe handle as a framing ``Stream`` (overlapped I/O, so reads have a deadline)."""

        def __init__(self, handle: Any, write_timeout: float, *, server: bool) -> None:
            self.handle = handle
            self.write_timeout = write_timeout
            self.server = server

        def _wait(self, overlapped: Any, timeout: float) -> int:
            millis = max(1, int(timeout * 1000))
            if win32event.WaitForSingleObject(overlapped.hEvent, millis) != 0:
                win32file.CancelIo(self.handle)
                with contextlib.suppress(pywintypes.error):
                    win32file.GetOverlappedResult(self.handle, overlapped, True)
                raise TimeoutError("pipe operation timed out")
            return int(win32file.GetOverlappedResult(self.handle, overlapped, False))

        def recv(self, size: int, timeout: float) -> bytes:
            overlapped = _overlapped()
            buffer = win32file.AllocateReadBuffer(size)
            try:
                win32file.ReadFile(self.handle, buffer, overlapped)
                count = self._wait(overlapped, timeout)
            except pywintypes.error as exc:
                if exc.winerror in _GONE:
                    return b""
                raise OSError(exc.winerror, exc.strerror) from exc
            return bytes(buffer[:count])

        def sendall(self, data: bytes) -> None:
            while data:
                overlapped = _overlapped()
                try:
                    win32file.WriteFile(self.handle, data, overlapped)
                    written = self._wait(overlapped, self.write_timeout)
                except pywintypes.error as exc:
                    raise OSError(exc.winerror, exc.strerror) from exc
                data = data[written:]

        def close(self) -> None:
            with contextlib.suppress(pywintypes.error):
                if self.server:
                    win32file.FlushFileBuffers(self.handle)
                    win32pipe.DisconnectNamedPipe(self.handle)
                win32file.CloseHandle(self.handle)

    def connect_pipe(name: str, timeout: float) -> PipeStream:
        """Open the client end with identification-only impersonation (CVE-2020-11492)."""
        try:
            win32pipe.WaitNamedPipe(name, max(1, int(timeout * 1000)))
            handle = win32file.CreateFile(
                name,
                win32file.GENERIC_READ | win32file.GENERIC_WRITE,
                0,
                None,
                win32file.OPEN_EXISTING,
                client_open_flags(),
                None,
            )
        except pywintypes.error as exc:
            raise OSError(exc.winerror, exc.strerror) from exc
        try:
            check_pipe_server(handle)
        except OSError:
            win32file.CloseHandle(handle)
            raise
        return PipeStream(handle, timeout, server=False)

    def check_pipe_server(handle: Any) -> None:
        """Refuse a pipe whose server process runs as anyone but SYSTEM or this user.

        A squatter that created the pipe name while the service was stopped would
        otherwise receive members' requests and answer them.
        """
        import ctypes

        pid = ctypes.c_ulong()
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        if not kernel32.GetNamedPipeServerProcessId(int(handle), ctypes.byref(pid)):
            raise OSError(ctypes.get_last_error(), "cannot tell which process serves the pipe")
        process = win32api.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid.value)
        try:
            token = win32security.OpenProcessToken(process, win32security.TOKEN_QUERY)
            server_sid, _attributes = win32security.GetTokenInformation(
                token, win32security.TokenUser
            )
        finally:
            win32api.CloseHandle(process)
        own = win32security.GetTokenInformation(
            win32security.OpenProcessToken(win32api.GetCurrentProcess(), win32security.TOKEN_QUERY),
            win32security.TokenUser,
        )[0]
        server = str(win32security.ConvertSidToStringSid(server_sid))
        if server not in (SYSTEM_SID, str(win32security.ConvertSidToStringSid(own))):
            raise PermissionError(
                f"the pipe is served by {server}, not by SYSTEM: refusing to talk to it"
            )

    def pipe_peer(handle: Any, group_sid: str) -> Peer:
        """The client's identity from its own token, read while impersonating it."""
        win32security.ImpersonateNamedPipeClient(handle)  # raises: nothing runs for this client
        try:
            token = win32security.OpenThreadToken(
                win32api.GetCurrentThread(), win32security.TOKEN_QUERY, True
            )
            user_sid = win32security.GetTokenInformation(token, win32security.TokenUser)[0]
            enabled = [
                sid
                for sid, attributes in win32security.GetTokenInformation(
                    token, win32security.TokenGroups
                )
                if attributes & _SE_GROUP_ENABLED
            ]
            member = win32security.CheckTokenMembership(
                token, win32security.ConvertStringSidToSid(group_sid)
            )
            admin = win32security.CheckTokenMembership(
                token, win32security.ConvertStringSidToSid(ADMINISTRATORS_SID)
            )
        finally:
            try:
                win32security.RevertToSelf()
            except pywintypes.error:  # still the client: stop rather than act as them
                os._exit(70)
        user_id = str(win32security.ConvertSidToStringSid(user_sid))
        group_ids = [str(win32security.ConvertSidToStringSid(sid)) for sid in enabled]
        group_ids = [g for g in group_ids if g != group_sid] + ([group_sid] if member else [])
        return Peer(
            user=_account_name(user_sid),
            user_id=user_id,
            groups=tuple(group_ids),
            group_ids=tuple(group_ids),
            pid=int(win32pipe.GetNamedPipeClientProcessId(handle)),  # advisory, for the log
            is_admin=bool(admin) or user_id == SYSTEM_SID,
        )

    def _account_name(sid: Any) -> str:
        try:
            name, domain, _kind = win32security.LookupAccountSid(None, sid)
        except pywintypes.error:
            return str(win32security.ConvertSidToStringSid(sid))
        return f"{domain}\\{name}"

    class PipeListener:
        """Serves the named pipe: one instance per connection, each on its own thread."""

        def __init__(self, service: Service, name: str, group: str) -> None:
            self.service = service
            self.name = name
            self.group = group
            self.group_sid = lookup_group_sid(group)
            self._attributes = _security_attributes(self.group_sid)
            self._stop = win32event.CreateEvent(None, True, False, None)
            self._thread: threading.Thread | None = None

        def _instance(self, *, first: bool) -> Any:
            try:
                return win32pipe.CreateNamedPipe(
                    self.name,
                    server_open_mode(first=first),
                    server_pipe_mode(),
                    win32pipe.PIPE_UNLIMITED_INSTANCES,
                    65536,
                    65536,
                    0,
                    self._attributes,
                )
            except pywintypes.error as exc:
                if first and exc.winerror in (
                    winerror.ERROR_ACCESS_DENIED,
                    winerror.ERROR_PIPE_BUSY,
                ):
                    raise ServiceStartError(
                        f"{self.name} already exists (another process created it first); "
                        "refusing to start"
                    ) from exc
                raise

        def start(self) -> None:
            first = self._instance(first=True)
            self._thread = threading.Thread(target=self._accept_loop, args=(first,), daemon=True)
            self._thread.start()
            self.service.audit.record("start", address=self.name, group=self.group)

        def stop(self) -> None:
            win32event.SetEvent(self._stop)
            if self._thread is not None:
                self._thread.join()
            self.service.audit.record("stop", address=self.name)

        def _accept_loop(self, handle: Any) -> None:
            while True:
                overlapped = _overlapped()
                try:
                    # With an OVERLAPPED, pywin32 returns ERROR_IO_PENDING or
                    # ERROR_PIPE_CONNECTED (a client was already there) instead of raising.
                    result = win32pipe.ConnectNamedPipe(handle, overlapped)
                except pywintypes.error:
                    broken, handle = handle, self._instance(first=False)
                    win32file.CloseHandle(broken)  # after: the pipe name never goes away
                    continue
                if result == winerror.ERROR_PIPE_CONNECTED:
                    win32event.SetEvent(overlapped.hEvent)
                which = win32event.WaitForMultipleObjects(
                    [self._stop, overlapped.hEvent], False, win32event.INFINITE
                )
                if which == win32event.WAIT_OBJECT_0:
                    win32file.CancelIo(handle)
                    win32file.CloseHandle(handle)
                    return
                # The next instance exists before this one is handed over, so the name is
                # always ours and nobody can create the pipe in between (squatting).
                connected, handle = handle, self._instance(first=False)
                threading.Thread(target=self._serve, args=(connected,), daemon=True).start()

        def _serve(self, handle: Any) -> None:
            # Windows gives the client's token only once a message has been read from the
            # pipe, so the first request is read before identifying (and admitting) anyone.
            stream = PipeStream(handle, self.service.limits.read_timeout, server=True)
            try:
                first = self.service.read_request(stream)
            except (FrameError, OSError) as exc:
                self.service.audit.record("connection_refused", reason=f"before identity: {exc}")
                stream.close()
                return
            if first is None:
                stream.close()
                return
            try:
                peer = pipe_peer(handle, self.group_sid)
            except pywintypes.error as exc:  # impersonation failed: never act for this client
                self.service.audit.record("connection_refused", reason=f"impersonation: {exc}")
                stream.close()
                return
            self.service.serve_client(
                stream, peer, group_id=self.group_sid, group=self.group, first_request=first
            )
