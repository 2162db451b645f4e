"""HTTP authentication for the twin endpoint: Basic, and Negotiate/NTLM with WinRM
message encryption (pyspnego on the server side).

One ``ConnectionAuth`` lives per TCP connection, since an NTLM security context
belongs to the connection it was negotiated on.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import spnego

SCHEMES = ("basic", "negotiate")
_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_LENGTH = re.compile(rb"Length=(\d+)")
_environ_lock = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """The users an endpoint accepts: its main user, and ``accounts`` (more users, name ->
    password, e.g. the FakeHost accounts a JEA test logs in as); ``user_file`` holds them
    for pyspnego's NTLM."""

    username: str
    password: str
    user_file: Path
    accounts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def written_to(
        cls, folder: Path, username: str, password: str, accounts: dict[str, str] | None = None
    ) -> Credentials:
        logins = ((username, password), *(accounts or {}).items())
        user_file = folder / "ntlm-users"
        lines = []
        for name, secret in logins:
            domain, _, user = name.rpartition("\\")
            lines.append(f"{domain}:{user}:{secret}\n")
        user_file.write_text("".join(lines), encoding="utf-8")
        user_file.chmod(0o600)
        return cls(username, password, user_file, tuple((accounts or {}).items()))

    def logins(self) -> tuple[tuple[str, str], ...]:
        return ((self.username, self.password), *self.accounts)


@contextmanager
def _ntlm_users(credentials: Credentials) -> Iterator[None]:
    """Point pyspnego's NTLM acceptor at this endpoint's user file for one step.

    pyspnego reads acceptor credentials only from the file named by NTLM_USER_FILE,
    a process-wide setting, so endpoints take turns under a lock (a step takes
    milliseconds) and each keeps its own users.
    """
    with _environ_lock:
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(credentials.user_file)
        try:
            yield
        finally:
            if previous is None:
                del os.environ["NTLM_USER_FILE"]
            else:
                os.environ["NTLM_USER_FILE"] = previous


@dataclass
class Outcome:
    """What the HTTP layer does next: serve the request, or answer 401 with ``headers``."""

    ok: bool
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ConnectionAuth:
    """Authentication state of one connection."""

    credentials: Credentials
    schemes: tuple[str, ...]
    context: spnego.ContextProxy | None = None
    authenticated: bool = False
    user: str = ""
    """Who logged in on this connection (as they wrote their name)."""

    def challenge(self) -> Outcome:
        self.context, self.authenticated = None, False
        offers = {"basic": 'Basic realm="WSMAN"', "negotiate": "Negotiate"}
        return Outcome(False, [("WWW-Authenticate", offers[s]) for s in self.schemes])

    def check(self, authorization: str) -> Outcome:
        """Check one request's Authorization header (empty when it has none)."""
        scheme, _, token = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in self.schemes:
            return self._basic(token)
        if scheme in ("negotiate", "ntlm") and "negotiate" in self.schemes:
            return self._negotiate(token)
        if self.authenticated and self.context is not None and not authorization:
            return Outcome(True)  # an established NTLM connection sends no header again
        return self.challenge()

    def _basic(self, token: str) -> Outcome:
        try:
            user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
        except ValueError:
            return self.challenge()
        for name, secret in self.credentials.logins():
            good = hmac.compare_digest(user.lower(), name.lower())
            if good & hmac.compare_digest(password, secret):
                self.user = name
                return Outcome(True)
        return self.challenge()

    def _negotiate(self, token: str) -> Outcome:
        try:
            with _ntlm_users(self.credentials):
                if self.context is None or self.authenticated:
                    self.context = spnego.server(
                        protocol="negotiate", options=spnego.NegotiateOptions.wrapping_winrm
                    )
                    self.authenticated = False
                answer = self.context.step(base64.b64decode(token))
        except (spnego.exceptions.SpnegoError, ValueError):
            return self.challenge()
        header = [("WWW-Authenticate", f"Negotiate {base64.b64encode(answer or b'').decode()}")]
        if not self.context.complete:
            return Outcome(False, header)
        self.authenticated = True
        self.user = self.context.client_principal or ""
        return Outcome(True, header if answer else [])

    # -- message encryption ---------------------------------------------------------

    def unwrap(self, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted request body."""
        if self.context is None:
            raise ValueError("encrypted message on a connection without a security context")
        plain = b""
        for part in body.split(_BOUNDARY + b"\r\n\tContent-Type: " + _PROTOCOL.encode())[1:]:
            length = _LENGTH.search(part)
            _, _, payload = part.partition(b"Content-Type: application/octet-stream\r\n")
            payload = payload.removesuffix(_BOUNDARY + b"--\r\n")
            header_length = struct.unpack("<i", payload[:4])[0]
            header, data = payload[4 : 4 + header_length], payload[4 + header_length :]
            chunk = self.context.unwrap_winrm(header, data)
            if length is None or int(length[1]) != len(chunk):
                raise ValueError("encrypted message length mismatch")
            plain += chunk
        return plain

    def wrap(self, body: bytes) -> tuple[str, bytes]:
        """Encrypt a response body; returns its Content-Type and bytes."""
        if self.context is None:
            raise ValueError("no security context to encrypt with")
        result = self.context.wrap_winrm(body)
        length = len(body) + result.padding_length
        wrapped = struct.pack("<i", len(result.header)) + result.header + result.data
        message = b"\r\n".join(
            [
                _BOUNDARY,
                b"\tContent-Type: " + _PROTOCOL.encode(),
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d" % length,
                _BOUNDARY,
                b"\tContent-Type: application/octet-stream",
                wrapped + _BOUNDARY + b"--\r\n",
            ]
        )
        content_type = f'multipart/encrypted;protocol="{_PROTOCOL}";boundary="Encrypted Boundary"'
        return content_type, message


def is_encrypted(content_type: str) -> bool:
    return content_type.startswith("multipart/encrypted")
