"""The service core: one request in, one validated job run, one response and audit line out.

Transport-neutral: the Unix-socket and named-pipe listeners hand it a byte
stream and the peer the operating system reported; it never trusts anything
the client says about itself.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from ddperm.errors import DdpermError, HostError, OutputError, PolicyError, TransportError
from ddperm.host import Host
from ddperm.service.admission import Admission, Limits
from ddperm.service.audit import AuditLog
from ddperm.service.framing import (
    MAX_REQUEST_BYTES,
    FrameError,
    Stream,
    drain,
    encode_frame,
    read_frame,
)
from ddperm.service.peer import Peer, is_authorized
from ddperm.service.protocol import (
    ErrorCode,
    RequestError,
    Response,
    encode_response,
    error_response,
    parse_envelope,
)
from ddperm.service.routes import ROUTES

DEFAULT_GROUP = "docker-users"
_DRAIN_BYTES = 1024 * 1024
_REFUSAL_DRAIN_SECONDS = 1.0


class Service:
    """Validates and runs requests against one ``Host``, one job at a time."""

    def __init__(
        self,
        host: Host,
        audit: AuditLog,
        *,
        windows_containers_enabled: bool = True,
        limits: Limits | None = None,
    ) -> None:
        self.host = host
        self.audit = audit
        self.windows_containers_enabled = (
            windows_containers_enabled and host.windows_containers_enabled
        )
        self.limits = limits or Limits()
        self._job_lock = threading.Lock()
        self.admission = Admission(self.limits)

    def serve_client(
        self,
        stream: Stream,
        peer: Peer,
        *,
        group_id: str,
        group: str,
        first_request: bytes | None = None,
    ) -> None:
        """Admit administrators and ``group`` members (fairly, see ``Admission``) and serve them.

        ``peer`` is what the operating system reported for the connection;
        ``first_request`` is a request already read to learn it (named pipes).
        """
        if not is_authorized(peer, group_id):
            self.audit.refusal("connection_refused", peer=peer, reason=f"not in {group}")
            _refuse(stream, "forbidden", f"only administrators and members of {group} may connect")
            return
        refused = self.admission.enter(peer)
        if refused is not None:
            self.audit.refusal("connection_refused", peer=peer, reason=refused)
            _refuse(stream, "busy", f"{refused}; try again later")
            return
        try:
            self.serve_connection(stream, peer, first_request)
        finally:
            self.admission.leave(peer)

    def read_request(self, stream: Stream, timeout: float | None = None) -> bytes | None:
        """One request frame within the limits; ``None`` when the client closed."""
        return read_frame(
            stream,
            limit=self.limits.max_request_bytes,
            timeout=self.limits.read_timeout if timeout is None else timeout,
        )

    def handle(self, body: bytes, peer: Peer) -> Response:
        """Answer one framed request body; every request is audited, whatever its fate."""
        started = time.monotonic()
        request_id: str | None = None
        route_name: str | None = None
        params: dict[str, Any] | None = None
        unexpected: str | None = None  # for administrators reading the log, never the client
        ran = False
        try:
            if not self.admission.may_request(peer):
                raise RequestError("rate_limited", "too many requests from this account; slow down")
            envelope = parse_envelope(body)
            request_id, route_name = envelope.id, envelope.route
            route = ROUTES.get(envelope.route)
            if route is None:
                raise RequestError("unknown_route", f"no route named {envelope.route!r}")
            if route.windows_engine and not self.windows_containers_enabled:
                raise RequestError(
                    "policy_refused",
                    "Windows containers are disabled on this host (--no-windows-containers)",
                )
            if route.admin_only and not peer.is_admin:
                raise RequestError("forbidden", f"{route.name} is for administrators only")
            request = route.parse(envelope.params)
            params = request.model_dump(mode="json")
            with self._job_lock:
                ran = True
                result = route.run(self.host, request)
            response = Response(id=request_id, ok=True, result=result.model_dump(mode="json"))
        except Exception as exc:  # every failure becomes an error response, never a crash
            response = _error_for(exc, request_id)
            if not isinstance(exc, (RequestError, DdpermError)):
                unexpected = f"{type(exc).__name__}: {exc}"
        error = response.error
        # A request that ran is always recorded whole; a refused one is rate limited per account.
        write = self.audit.record if ran else self.audit.refusal
        write(
            "request",
            peer=peer,
            route=route_name,
            params=params,
            outcome="ok" if error is None else error.code,
            error=None if error is None else error.message,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            **({"unexpected": unexpected} if unexpected else {}),
        )
        return response

    def serve_connection(
        self, stream: Stream, peer: Peer, first_request: bytes | None = None
    ) -> None:
        """Answer framed requests until the client closes, stalls, breaks the framing, or the
        connection reaches its maximum age."""
        pending = first_request
        closes_at = time.monotonic() + self.limits.max_connection_age
        timeout = self.limits.read_timeout
        try:
            while True:
                if time.monotonic() >= closes_at:
                    self.audit.refusal("connection_closed", peer=peer, reason="maximum age")
                    return
                try:
                    body = pending if pending is not None else self.read_request(stream, timeout)
                    pending = None
                except FrameError as exc:
                    if exc.code == "timeout" and time.monotonic() >= closes_at:
                        self.audit.refusal("connection_closed", peer=peer, reason="maximum age")
                        return
                    self.audit.refusal(
                        "request", peer=peer, route=None, outcome=exc.code, error=exc.message
                    )
                    send(stream, error_response(exc.code, exc.message))
                    drain(stream, limit=_DRAIN_BYTES, timeout=min(self.limits.read_timeout, 2.0))
                    return
                if body is None:
                    return
                send(stream, self.handle(body, peer))
                timeout = min(self.limits.idle_timeout, max(closes_at - time.monotonic(), 0.001))
        except OSError:
            return  # the client went away; nothing half-done is left (jobs run to completion)
        finally:
            stream.close()


def _refuse(stream: Stream, code: ErrorCode, message: str) -> None:
    """Answer a connection that will not be served, and let the client read the answer."""
    with contextlib.suppress(OSError):
        send(stream, error_response(code, message))
        drain(stream, limit=MAX_REQUEST_BYTES + 4, timeout=_REFUSAL_DRAIN_SECONDS)
    stream.close()


def send(stream: Stream, response: Response) -> None:
    try:
        frame = encode_frame(encode_response(response))
    except ValueError:
        frame = encode_frame(
            encode_response(error_response("internal_error", "the response is too large"))
        )
    stream.sendall(frame)


def _error_for(exc: Exception, request_id: str | None) -> Response:
    if isinstance(exc, RequestError):
        return error_response(exc.code, exc.message, id=request_id)
    if isinstance(exc, PolicyError):
        return error_response("policy_refused", str(exc), id=request_id)
    if isinstance(exc, HostError):
        return error_response(
            "host_error", exc.message, id=request_id, fqid=exc.fully_qualified_error_id
        )
    if isinstance(exc, TransportError):
        return error_response("transport_error", str(exc), id=request_id)
    if isinstance(exc, OutputError):
        return error_response("output_error", str(exc), id=request_id)
    return error_response(
        "internal_error", f"the service failed ({type(exc).__name__})", id=request_id
    )
