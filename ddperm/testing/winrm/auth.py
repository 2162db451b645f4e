"""HTTP authentication for the twin endpoint: Basic, and Negotiate (NTLM or Kerberos) or
Kerberos with WinRM message encryption (pyspnego on the server side).

One ``ConnectionAuth`` lives per TCP connection, since a security context belongs to the
connection it was negotiated on.
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
import spnego.exceptions

SCHEMES = ("basic", "negotiate")
KERBEROS_SCHEMES = ("basic", "negotiate", "kerberos")
"""What an endpoint with a keytab offers: WinRM's default service auth has Kerberos on."""
_PROTOCOLS = {
    "negotiate": "application/HTTP-SPNEGO-session-encrypted",
    "kerberos": "application/HTTP-Kerberos-session-encrypted",
}
_BOUNDARY = b"--Encrypted Boundary"
_LENGTH = re.compile(rb"Length=(\d+)")
_environ_lock = threading.Lock()


class Undecryptable(ValueError):
    """A sealed request body the connection's security context cannot open."""


@dataclass(frozen=True)
class Credentials:
    """The users an endpoint accepts: its main user, and ``accounts`` (more users, name ->
    password, e.g. the FakeHost accounts a JEA test logs in as); ``user_file`` holds them
    for pyspnego's NTLM; and the keytab of its Kerberos service principals, if any."""

    username: str
    password: str
    user_file: Path
    keytab: Path | None = None
    accounts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def written_to(
        cls,
        folder: Path,
        username: str,
        password: str,
        keytab: Path | None = None,
        accounts: dict[str, str] | None = None,
    ) -> Credentials:
        more = tuple((accounts or {}).items())
        lines = []
        for name, secret in ((username, password), *more):
            domain, _, user = name.rpartition("\\")
            lines.append(f"{domain}:{user}:{secret}\n")
        user_file = folder / "ntlm-users"
        user_file.write_text("".join(lines), encoding="utf-8")
        user_file.chmod(0o600)
        return cls(username, password, user_file, keytab, more)

    def logins(self) -> tuple[tuple[str, str], ...]:
        return ((self.username, self.password), *self.accounts)


@contextmanager
def _acceptor(credentials: Credentials) -> Iterator[None]:
    """Point pyspnego's acceptors at this endpoint's NTLM users and keytab for one step.

    pyspnego reads NTLM acceptor credentials only from the file named by NTLM_USER_FILE,
    and MIT Kerberos its keys from KRB5_KTNAME: process-wide settings, so endpoints take
    turns under a lock (a step takes milliseconds) and each keeps its own.
    """
    names = {"NTLM_USER_FILE": str(credentials.user_file)}
    if credentials.keytab is not None:
        names["KRB5_KTNAME"] = f"FILE:{credentials.keytab}"
    with _environ_lock:
        previous = {name: os.environ.get(name) for name in names}
        os.environ.update(names)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value


@dataclass
class Outcome:
    """What the HTTP layer does next: serve the request, or answer 401 with ``headers``."""

    ok: bool
    headers: list[tuple[str, str]] = field(default_factory=list)
    completed: str = ""
    """The mechanism (ntlm, kerberos) of a handshake this request completed."""


@dataclass
class ConnectionAuth:
    """Authentication state of one connection."""

    credentials: Credentials
    schemes: tuple[str, ...]
    context: spnego.ContextProxy | None = None
    scheme: str = "negotiate"
    """The HTTP scheme the context was made with: it names the encryption protocol."""
    authenticated: bool = False
    user: str = ""
    """Who logged in on this connection (as they wrote their name)."""

    def challenge(self) -> Outcome:
        self.context, self.authenticated = None, False
        offers = {"basic": 'Basic realm="WSMAN"', "negotiate": "Negotiate", "kerberos": "Kerberos"}
        return Outcome(False, [("WWW-Authenticate", offers[s]) for s in self.schemes])

    def check(self, authorization: str) -> Outcome:
        """Check one request's Authorization header (empty when it has none)."""
        scheme, _, token = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in self.schemes:
            return self._basic(token)
        if scheme in ("negotiate", "ntlm") and "negotiate" in self.schemes:
            return self._step("negotiate", token)
        if scheme == "kerberos" and "kerberos" in self.schemes:
            return self._step("kerberos", token)
        if self.authenticated and self.context is not None and not authorization:
            return Outcome(True)  # an established connection sends no header again
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

    def _step(self, scheme: str, token: str) -> Outcome:
        """One leg of a Negotiate (NTLM or Kerberos) or Kerberos handshake."""
        try:
            with _acceptor(self.credentials):
                if self.context is None or self.authenticated or scheme != self.scheme:
                    self.context = spnego.server(
                        protocol=scheme, options=spnego.NegotiateOptions.wrapping_winrm
                    )
                    self.scheme, self.authenticated = scheme, False
                answer = self.context.step(base64.b64decode(token))
        except (spnego.exceptions.SpnegoError, ValueError, AttributeError):
            # AttributeError: python-gssapi defers a failed accept (e.g. a ticket for a
            # principal not in the keytab) and pyspnego then reads flags of a context
            # that never started.
            return self.challenge()
        name = scheme.capitalize()
        header = [("WWW-Authenticate", f"{name} {base64.b64encode(answer or b'').decode()}")]
        if not self.context.complete:
            return Outcome(False, header)
        self.authenticated = True
        self.user = self.context.client_principal or ""
        return Outcome(True, header if answer else [], self.context.negotiated_protocol or "")

    # -- message encryption ---------------------------------------------------------

    @property
    def _protocol(self) -> bytes:
        return _PROTOCOLS[self.scheme].encode()

    def unwrap(self, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted request body; ``Undecryptable`` if it cannot be."""
        if self.context is None:
            raise Undecryptable("encrypted message on a connection without a security context")
        parts = body.split(_BOUNDARY + b"\r\n\tContent-Type: " + self._protocol)[1:]
        if not parts:
            raise Undecryptable("no part sealed with this connection's protocol")
        plain = b""
        for part in parts:
            length = _LENGTH.search(part)
            _, _, payload = part.partition(b"Content-Type: application/octet-stream\r\n")
            payload = payload.removesuffix(_BOUNDARY + b"--\r\n")
            try:
                header_length = struct.unpack("<i", payload[:4])[0]
                header, data = payload[4 : 4 + header_length], payload[4 + header_length :]
                chunk = self.context.unwrap_winrm(header, data)
            except (struct.error, spnego.exceptions.SpnegoError) as exc:  # e.g. another context
                raise Undecryptable(str(exc)) from exc
            if length is None or int(length[1]) != len(chunk):
                raise Undecryptable("encrypted message length mismatch")
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
                b"\tContent-Type: " + self._protocol,
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d" % length,
                _BOUNDARY,
                b"\tContent-Type: application/octet-stream",
                wrapped + _BOUNDARY + b"--\r\n",
            ]
        )
        protocol = _PROTOCOLS[self.scheme]
        content_type = f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'
        return content_type, message


def is_encrypted(content_type: str) -> bool:
    return content_type.startswith("multipart/encrypted")
