"""The one place where pypsrp, spnego, requests, urllib3, ssl and socket failures become
ddperm errors, each with one sentence a person can act on (never a library's repr).

- unreachable (refused, name not resolved, no answer in time, connection dropped):
  ``TransportError``, retried for reads and ensure-style writes;
- TLS that cannot work (certificate not trusted, a plain-HTTP port): ``TLSError``, not
  retried; any other failed handshake is a ``TransportError``;
- credentials rejected, missing, or refused by spnego before sending: ``AuthenticationError``;
  Kerberos failures name their cause (ticket expired, service principal unknown to the KDC
  or without a key on the host, user unknown, password wrong, no KDC);
- an auth method this machine cannot do (missing extra, GSSAPI feature): ``ConfigurationError``;
- WS-Man faults: "try again" is ``TransportError``, access denied ``AuthenticationError``,
  others ``HostError`` (``WSManFault,<code>``).
"""

from __future__ import annotations

import re
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import RemoteDisconnected

import requests
import spnego.exceptions
import urllib3.exceptions
from pypsrp.exceptions import AuthenticationError as PSRPAuthenticationError
from pypsrp.exceptions import WinRMError, WinRMTransportError, WSManFaultError

from ddperm.errors import (
    AuthenticationError,
    ConfigurationError,
    DdpermError,
    HostError,
    TLSError,
    TransportError,
)
from ddperm.transports.settings import PW_HINT

TRY_AGAIN = frozenset({0x80338029, 170, 1237})
"""WS-Man fault codes meaning "try again": operation timed out, ERROR_BUSY, ERROR_RETRY."""
ACCESS_DENIED = 5
_NOT_TLS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL")
"""OpenSSL reasons seen when the other end answers a TLS hello in plain HTTP."""
_LIBRARY_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError)
"""Wrappers whose text is a repr of what they wrap."""
KINIT_HINT = "renew it with kinit (klist shows it) or pass password="
_KERBEROS = (
    (r"credential has expired|[Tt]icket expired", "the Kerberos ticket{who} has expired: {kinit}"),
    (
        r"Server '?([^' ]+?)'? not found in Kerberos database",
        "the service principal {0} is not known to the KDC: connect by a name the host is"
        " registered under (setspn -L <host> lists them), or set negotiate_service or"
        " negotiate_hostname_override",
    ),
    (
        r"Client '?([^' ]+?)'? not found in Kerberos database",
        "the KDC does not know the user {0}: check the user name (user@REALM)",
    ),
    (
        r"Decrypt integrity check failed|Preauthentication failed|Password incorrect",
        "the KDC rejected the password{who}: check it",
    ),
    (
        r"Cannot (?:contact|find) (?:any )?KDC for (?:requested )?realm '?([^' ]+?)'?(?: |$)",
        "no KDC answers for the realm {0}: check krb5.conf (KRB5_CONFIG) and that a KDC is"
        " reachable",
    ),
)
"""Kerberos failure texts (MIT krb5 / GSSAPI) and what to tell the person."""


@dataclass(frozen=True)
class Wire:
    """What a message needs to know about the connection that failed (no secrets)."""

    server: str
    port: int
    ssl: bool
    auth: str
    username: str | None
    has_password: bool

    @property
    def address(self) -> str:
        host = f"[{self.server}]" if ":" in self.server else self.server
        return f"{host}:{self.port}"


def translate(wire: Wire, exc: Exception) -> Exception:
    """``exc`` as a ddperm error; an exception this module does not know is returned as is."""
    if isinstance(exc, DdpermError):
        return exc
    if isinstance(exc, PSRPAuthenticationError) or (
        isinstance(exc, WinRMTransportError) and exc.code == 401
    ):
        return _rejected(wire)
    if isinstance(exc, (spnego.exceptions.SpnegoError, *_krb5_errors())):
        return _kerberos(wire, exc) or _spnego(wire, exc)
    if isinstance(exc, (ImportError, spnego.exceptions.FeatureMissingError)):
        return ConfigurationError(f"{wire.auth} auth cannot work on this machine: {exc}")
    if isinstance(exc, WSManFaultError):
        return _wsman_fault(wire, exc)
    if isinstance(exc, WinRMTransportError):
        if exc.code >= 500:
            return TransportError(
                f"{wire.address} answered HTTP {exc.code}; the WinRM service is busy or restarting"
            )
        return HostError(
            f"{wire.address} answered HTTP {exc.code}: {exc.response_text[:200]}",
            fully_qualified_error_id=f"WinRMTransport,{exc.code}",
            category="ConnectionError",
        )
    if isinstance(exc, (requests.RequestException, OSError)):
        return _network(wire, exc)
    if isinstance(exc, ET.ParseError):
        return TransportError(f"{wire.address} answered with something that is not WS-Man XML")
    if isinstance(exc, WinRMError):
        return TransportError(f"{wire.address}: {exc}")
    return exc


def _rejected(wire: Wire) -> AuthenticationError:
    who = f"user {wire.username!r}" if wire.username else "no user name"
    if wire.auth == "kerberos":
        return AuthenticationError(
            f"{wire.address} rejected the Kerberos ticket ({who}): the host holds no key for"
            " the service principal the ticket is for (registered to another account, or"
            " the name connected by is not the host's); connect by the host's own name"
        )
    return AuthenticationError(
        f"{wire.address} rejected the credentials ({who}, {wire.auth} auth);"
        " check the user name and password"
    )


def _krb5_errors() -> tuple[type[Exception], ...]:
    """The krb5 package's error (raised by a Kerberos logon with a password), if installed."""
    try:
        from krb5 import Krb5Error
    except ImportError:  # no kerberos extra: nothing raises it
        return ()
    return (Krb5Error,)


def _kerberos(wire: Wire, exc: Exception) -> AuthenticationError | None:
    """The sentence for a Kerberos failure, or None when ``exc`` is not one we know."""
    text = " ".join(str(cause) for cause in _causes(exc))
    who = f" of {wire.username!r}" if wire.username else ""
    for pattern, sentence in _KERBEROS:
        found = re.search(pattern, text)
        if found:
            reason = sentence.format(*found.groups(), who=who, kinit=KINIT_HINT)
            return AuthenticationError(f"{wire.auth} auth to {wire.address} failed: {reason}")
    return None


def _spnego(wire: Wire, exc: Exception) -> AuthenticationError:
    if not wire.has_password:
        who = f"user {wire.username!r}" if wire.username else "any user"
        cached = " (a Kerberos ticket: klist shows it)" if wire.auth != "ntlm" else ""
        return AuthenticationError(
            f"no password for {who} ({wire.auth} auth to {wire.address}) and no cached"
            f" credential{cached} to use instead: {PW_HINT}"
        )
    reason = str(exc).rpartition("Context: ")[2] or str(exc)
    return AuthenticationError(
        f"{wire.auth} auth to {wire.address} failed before the host could check it: {reason}"
    )


def _wsman_fault(wire: Wire, exc: WSManFaultError) -> DdpermError:
    reason = str(exc.reason or exc).strip()
    if exc.code == ACCESS_DENIED:
        return AuthenticationError(f"{wire.address} denied access: {reason}")
    if exc.code in TRY_AGAIN:
        return TransportError(
            f"{wire.address} asked to try again (WS-Man fault {exc.code:#x}): {reason}"
        )
    code = f",{exc.code:#x}" if isinstance(exc.code, int) else ""
    return HostError(reason, fully_qualified_error_id=f"WSManFault{code}", category="ProtocolError")


def _network(wire: Wire, exc: BaseException) -> TransportError:
    causes = list(_causes(exc))
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return TLSError(
            f"the certificate of {wire.address} is not trusted ({tls.verify_message});"
            " pass its CA bundle as cert_validation='ca.pem' (CLI: --ca-cert), or for a test"
            " machine only turn validation off (cert_validation=False, CLI: --insecure)"
        )
    if tls is not None and any(reason in str(tls) for reason in _NOT_TLS):
        return TLSError(
            f"{wire.address} does not speak TLS (it answers in plain HTTP, as WinRM does on"
            " 5985); connect with ssl=False (CLI: --http)"
        )
    if tls is not None:  # e.g. the host closed the connection mid-handshake: may pass
        return TransportError(f"the TLS handshake with {wire.address} failed: {_reason(tls)}")
    if any(isinstance(c, socket.gaierror) for c in causes):
        return TransportError(f"cannot resolve the host name {wire.server!r}")
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        default = 5986 if wire.ssl else 5985
        return TransportError(
            f"{wire.address} refused the connection; is WinRM listening there"
            f" ({'HTTPS' if wire.ssl else 'HTTP'} listens on {default} by default)?"
        )
    if any(isinstance(c, (requests.Timeout, TimeoutError)) for c in causes):
        return TransportError(f"{wire.address} did not answer in time")
    if not wire.ssl and any(isinstance(c, RemoteDisconnected) for c in causes):
        return TransportError(
            f"{wire.address} closed the connection without answering; if it is an HTTPS"
            " listener (5986 by default), connect with ssl=True (CLI: --https)"
        )
    root = next((c for c in reversed(causes) if not isinstance(c, _LIBRARY_ERRORS)), exc)
    return TransportError(f"the connection to {wire.address} failed: {_reason(root)}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3 reasons, exception args."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo.extend(e for e in [*linked, *current.args] if isinstance(e, BaseException))


def _reason(exc: BaseException) -> str:
    """The human part of an OS or OpenSSL error; for a library's own error, its doc line."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, _LIBRARY_ERRORS):
        return (type(exc).__doc__ or type(exc).__name__).strip().splitlines()[0]
    return str(exc) or type(exc).__name__
