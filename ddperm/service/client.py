"""``Client``: asks a running ddperm service to do one of its jobs."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ValidationError

from ddperm.errors import DdpermError, HostError, OutputError, PolicyError, TransportError
from ddperm.service.config import default_address
from ddperm.service.framing import (
    MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES,
    FrameError,
    Stream,
    encode_frame,
    read_frame,
)
from ddperm.service.protocol import Response
from ddperm.service.routes import ROUTES

_CONNECTION_ENDING = {"forbidden", "busy", "too_large", "truncated", "timeout", "bad_frame"}


class ServiceError(DdpermError):
    """The service answered with an error (``code`` says which, e.g. ``forbidden``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Client:
    """One connection to the service, reused for every call (one call at a time)."""

    def __init__(self, address: str | None = None, *, timeout: float = 120.0) -> None:
        self.address = address or default_address()
        self.timeout = timeout
        self._stream: Stream | None = None
        self._lock = threading.Lock()

    def call(self, route: str, **params: Any) -> BaseModel:
        """Run ``route`` and return its response model (e.g. ``VersionInfo`` for ``version``)."""
        known = ROUTES.get(route)
        if known is None:
            raise ServiceError("unknown_route", f"no route named {route!r}")
        return known.response.model_validate(self.request(route, params))  # type: ignore[no-any-return]

    def request(self, route: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one request and return the raw result; errors raise typed exceptions."""
        document = {"v": 1, "route": route, "params": dict(params or {})}
        body = json.dumps(document, allow_nan=False).encode()
        if len(body) > MAX_REQUEST_BYTES:
            raise ServiceError("too_large", f"request of {len(body)} bytes is over the limit")
        with self._lock:
            stream = self._connect()
            try:
                stream.sendall(encode_frame(body, limit=MAX_REQUEST_BYTES))
                answer = read_frame(stream, limit=MAX_RESPONSE_BYTES, timeout=self.timeout)
            except (OSError, FrameError) as exc:
                self._drop()
                raise TransportError(f"lost the connection to {self.address}: {exc}") from exc
            if answer is None:
                self._drop()
                raise TransportError(f"{self.address} closed the connection")
            try:
                response = Response.model_validate_json(answer)
            except ValidationError:
                self._drop()
                raise ServiceError(
                    "bad_response", "the service's answer is not a response"
                ) from None
            if response.error is not None and response.error.code in _CONNECTION_ENDING:
                self._drop()  # the service closes the connection after these
        if response.ok and response.result is not None:
            return response.result
        raise _exception_for(response)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> Stream:
        if self._stream is None:
            try:
                self._stream = _open(self.address, self.timeout)
            except OSError as exc:
                raise TransportError(f"cannot connect to {self.address}: {exc}") from exc
        return self._stream

    def _drop(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _open(address: str, timeout: float) -> Stream:
    if sys.platform == "win32":
        from ddperm.service.windows_pipe import connect_pipe

        return connect_pipe(address, timeout)
    from ddperm.service.unix_socket import SocketStream

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
        _check_server(sock, address)
    except OSError:
        sock.close()
        raise
    return SocketStream(sock, timeout)


def _check_server(sock: socket.socket, address: str) -> None:
    """Refuse a socket served by anyone but root or this user (a squatter or a re-pointed link)."""
    from ddperm.service.peer import unix_peer

    server = unix_peer(sock)
    if int(server.user_id) not in (0, os.geteuid()):
        raise PermissionError(
            f"{address} is served by {server.user} (uid {server.user_id}), not root: "
            "refusing to send it anything"
        )


def _exception_for(response: Response) -> Exception:
    error = response.error
    if error is None:
        return ServiceError("bad_response", "the service sent neither a result nor an error")
    if error.code == "policy_refused":
        return PolicyError(error.message)
    if error.code == "host_error":
        return HostError(error.message, fully_qualified_error_id=error.fully_qualified_error_id)
    if error.code == "transport_error":
        return TransportError(error.message)
    if error.code == "output_error":
        return OutputError(error.message)
    return ServiceError(error.code, error.message)
