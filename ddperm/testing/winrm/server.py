"""The HTTP layer: serves a FakeHost as a WinRM endpoint on 127.0.0.1.

    with serve(fake) as endpoint:
        host = ddperm.connect(**endpoint.connect_options())

HTTP/1.1 keep-alive (NTLM contexts belong to a connection), each response written
in one send with TCP_NODELAY, Basic or Negotiate/NTLM auth with WinRM message
encryption, optional HTTPS with a generated self-signed certificate, and the
faults a test plans on ``endpoint.faults``. What WinRM refuses before the SOAP
layer is refused here too: an unencrypted message over http while AllowUnencrypted
is off (401), another media type (415), a body past MaxEnvelopeSizekb (413).
Identify is answered with or without credentials.
"""

from __future__ import annotations

import socket
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ddperm.scripts import ScriptRegistry
from ddperm.testing.fakehost import FakeHost
from ddperm.testing.winrm import soap
from ddperm.testing.winrm.auth import (
    KERBEROS_SCHEMES,
    SCHEMES,
    ConnectionAuth,
    Credentials,
    is_encrypted,
)
from ddperm.testing.winrm.bridge import FakeHostRunner
from ddperm.testing.winrm.config import WinRMConfig
from ddperm.testing.winrm.faults import Fault, FaultPlan
from ddperm.testing.winrm.jea import JeaSessions
from ddperm.testing.winrm.service import WinRMService
from ddperm.testing.winrm.tls import write_self_signed

SOAP_TYPE = "application/soap+xml;charset=UTF-8"
_TEXT = [("Content-Type", "text/plain")]
_SHUTDOWN_AFTER = 0.2
"""Seconds between the restart script's answer and the endpoint going away."""
IDLE_TIMEOUT = 120.0
"""Seconds an idle keep-alive connection is kept open (HTTP.sys's IdleConnectionTimeout)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        service: WinRMService,
        credentials: Credentials,
        schemes: tuple[str, ...],
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        super().__init__(address, _Handler)
        self.idle_timeout = idle_timeout
        self.service = service
        self.credentials = credentials
        self.schemes = schemes
        self.faults = FaultPlan()
        self.stopping = threading.Event()
        self.down = threading.Event()
        self.counts: Counter[str] = Counter()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._connections.add if alive else self._connections.discard)(connection)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def restart_windows(self, fake: FakeHost, downtime: float) -> None:
        """Go away as a restarting machine does, then come back restarted.

        Shortly after the restart script answered, every connection drops and every shell
        dies; requests go unanswered for ``downtime`` seconds; then the FakeHost has
        restarted (pending features done, new boot time) and the endpoint answers again.
        """

        def cycle() -> None:
            time.sleep(_SHUTDOWN_AFTER)
            self.down.set()
            self.close_connections()
            self.service.kill_shells()
            time.sleep(downtime)
            fake.restart()
            self.count("restart")
            self.down.clear()

        threading.Thread(target=cycle, name="ddperm-twin-restart", daemon=True).start()

    def restart_winrm(self) -> None:
        """What ``Restart-Service winrm`` does: every shell and connection is gone at once
        (the caller's own answer never arrives); the service answers again right away."""
        self.service.kill_shells()
        self.close_connections()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about connections the twin dropped on purpose (a WinRM or Windows restart)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()
        self.request.settimeout(self.server.idle_timeout)
        self.auth = ConnectionAuth(self.server.credentials, self.server.schemes)
        self.server.track(self.request, True)

    def finish(self) -> None:
        self.server.track(self.request, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the twin serves tests."""

    def do_POST(self) -> None:
        self.server.count("http")
        if self.server.down.is_set():  # restarting: nobody answers
            self.close_connection = True
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self._send(411, b"Length Required", _TEXT)
            return
        body = self.rfile.read(int(length))
        if self.path.rstrip("/").lower() != "/wsman":
            self._send(404, b"Not Found", _TEXT)
            return
        authorization = self.headers.get("Authorization", "")
        if not authorization and self.headers.get("WSMANIDENTIFY", "").lower() == "unauthenticated":
            self._identify(body, authenticated=False)
            return
        if self.server.faults.take("", auth_stage=True):
            self._send(401, b"", self.auth.challenge().headers)
            return
        outcome = self.auth.check(authorization)
        if outcome.completed:
            self.server.count(f"auth:{outcome.completed}")
        if not outcome.ok:
            self._send(401, b"", outcome.headers)
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = is_encrypted(content_type)
        try:
            plain = self.auth.unwrap(body) if encrypted else body
        except ValueError:  # e.g. sealed by a context this connection does not hold
            self._send(400, b"", [])  # as WinRM does: an empty 400, nothing ran
            return
        if not plain:  # the empty POST a client sends to set up message encryption
            self._send(200, b"", outcome.headers)
            return
        refused = self._refusal(encrypted, content_type, len(plain))
        if refused:
            self._send(refused, b"", self.auth.challenge().headers if refused == 401 else [])
            return
        if encrypted:
            self.server.count("encrypted")
        status, answer = self._answer(plain)
        if status == 0:
            self.close_connection = True  # a planned drop or stall: no answer at all
            return
        if encrypted:
            content_type, answer = self.auth.wrap(answer)
        else:
            content_type = SOAP_TYPE
        self._send(status, answer, [*outcome.headers, ("Content-Type", content_type)])

    def _refusal(self, encrypted: bool, content_type: str, size: int) -> int:
        """The HTTP status WinRM refuses an authenticated request with, or 0."""
        config = self.server.service.config
        tls = isinstance(self.request, ssl.SSLSocket)
        if not (encrypted or tls or config.allow_unencrypted):
            return 401  # AllowUnencrypted is off: http needs message encryption
        if not encrypted and not content_type.lower().startswith("application/soap+xml"):
            return 415
        if size > config.max_envelope_size:
            return 413
        return 0

    def _identify(self, body: bytes, *, authenticated: bool) -> None:
        try:
            request = soap.parse_request(body)
        except ValueError:
            request = None
        if request is None or request.name != soap.IDENTIFY:
            self._send(401, b"", self.auth.challenge().headers)
            return
        answer = self.server.service.identify(authenticated)
        self._send(200, answer, [("Content-Type", SOAP_TYPE)])

    def _answer(self, plain: bytes) -> tuple[int, bytes]:
        """The status and SOAP answer to one request, after any planned fault (0: say nothing)."""
        try:
            request = soap.parse_request(plain)
        except ValueError:
            return 500, soap.fault(None, soap.INVALID_REQUEST)
        if request.name == soap.IDENTIFY:
            return 200, self.server.service.identify(True)
        planned = self.server.faults.take(request.name)
        fault, seconds = planned if planned else (None, 0.0)
        if fault is Fault.UNAVAILABLE:
            return 503, b""
        if fault is Fault.WSMAN_FAULT:
            return 500, soap.fault(request, soap.SERVICE_BUSY)
        if fault is Fault.STALL:
            self.server.stopping.wait(seconds)
            return 0, b""
        delay = seconds if fault is Fault.SLOW else 0.0
        status, answer = self.server.service.handle(
            request, script_delay=delay, user=self.auth.user
        )
        return (0, b"") if fault is Fault.DROP else (status, answer)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", "Server: ddperm-twin"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)  # one send: split writes cost a Nagle/delayed-ACK wait


@dataclass
class Endpoint:
    """A running twin endpoint: where it is, how to log in, and handles for tests."""

    host: str
    port: int
    username: str
    password: str
    auth: str
    certificate: Path | None
    service: WinRMService
    faults: FaultPlan
    _runner: FakeHostRunner = field(repr=False)
    _server: _Server = field(repr=False)

    @property
    def fake(self) -> FakeHost:
        """The FakeHost answering; assign another to reuse the endpoint for a new test."""
        return self._runner.fake

    @fake.setter
    def fake(self, fake: FakeHost) -> None:
        self._runner.fake = fake

    @property
    def restarts(self) -> int:
        """How many times the endpoint went away for a restart and came back."""
        return self._server.counts["restart"]

    @property
    def ssl(self) -> bool:
        return self.certificate is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}/wsman"

    @property
    def open_connections(self) -> int:
        """Client connections open now (an idle one is closed after ``idle_timeout``)."""
        with self._server._lock:
            return len(self._server._connections)

    @property
    def authentications(self) -> dict[str, int]:
        """Completed Negotiate/Kerberos handshakes by mechanism, e.g. ``{"kerberos": 1}``."""
        counts = self._server.counts
        return {what[5:]: n for what, n in counts.items() if what.startswith("auth:")}

    @property
    def http_requests(self) -> int:
        """HTTP requests served so far (auth round trips included)."""
        return self._server.counts["http"]

    @property
    def encrypted_requests(self) -> int:
        """Of those, the WS-Man requests that came with WinRM message encryption."""
        return self._server.counts["encrypted"]

    def connect_options(self, username: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``ddperm.connect`` (and, minus ``server``, pypsrp's WSMan),
        as the main user or as one of the ``accounts`` the endpoint was served with."""
        logins = dict(self._server.credentials.logins())
        name = username if username is not None else self.username
        options: dict[str, Any] = {
            "server": self.host,
            "port": self.port,
            "ssl": self.ssl,
            "auth": self.auth,
            "username": name,
            "password": logins[name],
        }
        if self.certificate is not None:
            options["cert_validation"] = str(self.certificate)
        if self.auth == "basic" and not self.ssl:
            options["encryption"] = "never"
        return options

    def kill_shells(self) -> int:
        """Drop every shell (runspace pool) as a restarted WinRM service would."""
        return self.service.kill_shells()


@contextmanager
def serve(
    fake: FakeHost | None = None,
    *,
    auth: str = "basic",
    tls: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    username: str = "ddperm",
    password: str = "twin-Passw0rd",  # noqa: S107  (a loopback test twin)
    registry: ScriptRegistry | None = None,
    restart_downtime: float = 1.0,
    config: WinRMConfig | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
    keytab: Path | None = None,
    schemes: tuple[str, ...] | None = None,
    accounts: dict[str, str] | None = None,
) -> Iterator[Endpoint]:
    """Serve ``fake`` as a WinRM endpoint until the block ends (port 0: an ephemeral one).

    ``auth`` is what the returned options ask for ("basic", "negotiate" or "ntlm");
    the endpoint accepts both schemes. ``tls`` serves HTTPS with a fresh self-signed
    certificate whose path is ``endpoint.certificate``. ``config`` holds the WinRM
    settings; by default AllowUnencrypted is on only for "basic" (the setup Basic over
    http needs on Windows) and off otherwise, as on a fresh host. When a script restarts Windows,
    the endpoint goes away for ``restart_downtime`` seconds and comes back restarted.
    A connection idle for ``idle_timeout`` seconds is closed. With ``keytab`` (the keys of
    its HTTP/ and host/ service principals) it also accepts Kerberos, offered both inside
    Negotiate and as the Kerberos scheme. ``schemes`` narrows what is offered, as WinRM's
    service auth settings do (e.g. ``("kerberos",)``).
    ``accounts`` (name -> password) are more users who may log in, e.g. FakeHost accounts
    a JEA session resolves roles for (a shell on a configuration the FakeHost registered,
    such as ``ddperm``, is a JEA session: ``ddperm.testing.winrm.jea``).
    """
    if auth not in ("basic", "negotiate", "ntlm", "kerberos"):
        raise ValueError(f"the twin speaks basic, negotiate, ntlm or kerberos, not {auth!r}")
    runner = FakeHostRunner(fake if fake is not None else FakeHost(), registry)
    if config is None:
        config = WinRMConfig(allow_unencrypted=auth == "basic")
    service = WinRMService(runner, config, open_session=JeaSessions(runner))
    with tempfile.TemporaryDirectory(prefix="ddperm-twin-") as folder:
        credentials = Credentials.written_to(Path(folder), username, password, keytab, accounts)
        if schemes is None:
            schemes = SCHEMES if keytab is None else KERBEROS_SCHEMES
        server = _Server((host, port), service, credentials, schemes, idle_timeout)
        certificate = None
        if tls:
            certificate, key = write_self_signed(Path(folder), host)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate, key)
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        runner.on_restart = lambda fake: server.restart_windows(fake, restart_downtime)
        runner.on_winrm_restart = server.restart_winrm
        thread = threading.Thread(target=server.serve_forever, name="ddperm-twin", daemon=True)
        thread.start()
        try:
            yield Endpoint(
                host=host,
                port=server.server_address[1],
                username=credentials.username,
                password=credentials.password,
                auth=auth,
                certificate=certificate,
                service=service,
                faults=server.faults,
                _runner=runner,
                _server=server,
            )
        finally:
            server.stopping.set()
            service.kill_shells()
            server.shutdown()
            server.close_connections()
            server.server_close()
            thread.join(timeout=10)
