"""Wire failures met for real (twin endpoints, closed ports, silent sockets) become ddperm
errors with one sentence a person can act on, never a library's repr."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import ddperm
from ddperm.errors import AuthenticationError, DdpermError, TLSError, TransportError
from ddperm.retry import NO_RETRY
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, serve

LIBRARY_REPRS = (
    "HTTPConnectionPool",
    "HTTPSConnectionPool",
    "Max retries",
    "SpnegoError",
    " at 0x",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def places() -> Iterator[dict[str, Any]]:
    """A plain-HTTP NTLM twin, an HTTPS twin, and a port that accepts but never answers."""
    with ExitStack() as stack:
        silent = stack.enter_context(socket.socket())
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield {
            "http": stack.enter_context(serve(FakeHost(), auth="ntlm", password="pw-http")),
            "https": stack.enter_context(serve(FakeHost(), auth="ntlm", tls=True)),
            "silent_port": silent.getsockname()[1],
        }


def _http(places: dict[str, Any], **changes: Any) -> dict[str, Any]:
    endpoint: Endpoint = places["http"]
    return endpoint.connect_options() | changes


def _https(places: dict[str, Any], **changes: Any) -> dict[str, Any]:
    endpoint: Endpoint = places["https"]
    return endpoint.connect_options() | changes


CASES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], type[DdpermError], str]] = [
    (
        "refused",
        lambda p: _http(p, port=_free_port()),
        TransportError,
        r"127\.0\.0\.1:\d+ refused the connection; is WinRM listening there",
    ),
    (
        "unknown name",
        lambda p: _http(p, server="no-such-host.invalid"),
        TransportError,
        r"cannot resolve the host name 'no-such-host\.invalid'",
    ),
    (
        "silent",
        lambda p: _http(
            p, port=p["silent_port"], operation_timeout=1, read_timeout=1, connection_timeout=1
        ),
        TransportError,
        r"127\.0\.0\.1:\d+ did not answer in time",
    ),
    (
        "untrusted certificate",
        lambda p: {k: v for k, v in _https(p).items() if k != "cert_validation"},
        TLSError,
        r"the certificate of 127\.0\.0\.1:\d+ is not trusted .*--ca-cert",
    ),
    (
        "TLS to an HTTP port",
        lambda p: _http(p, ssl=True, cert_validation=False),
        TLSError,
        r"does not speak TLS .* connect with ssl=False \(CLI: --http\)",
    ),
    (
        "HTTP to an HTTPS port",
        lambda p: _https(p, ssl=False),
        TransportError,
        r"closed the connection without answering; if it is an HTTPS listener .* --https",
    ),
    (
        "wrong password",
        lambda p: _http(p, password="not-it"),
        AuthenticationError,
        r"rejected the credentials \(user 'ddperm', ntlm auth\); check the user name and password",
    ),
    (
        "no password",
        lambda p: _http(p, password=None),
        AuthenticationError,
        r"no password for user 'ddperm' \(ntlm auth to 127\.0\.0\.1:\d+\)",
    ),
]


@pytest.mark.parametrize(
    ("options", "error", "message"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_each_wire_failure_is_one_actionable_sentence(
    places: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    options: Callable[[dict[str, Any]], dict[str, Any]],
    error: type[DdpermError],
    message: str,
) -> None:
    monkeypatch.delenv("DDPERM_PASSWORD", raising=False)
    with (
        ddperm.connect(**options(places), retry=NO_RETRY) as host,
        pytest.raises(DdpermError) as raised,
    ):
        host.version()
    assert type(raised.value) is error
    text = str(raised.value)
    assert raised.match(message)
    assert "\n" not in text
    assert not any(junk in text for junk in LIBRARY_REPRS), text


@pytest.mark.parametrize(
    ("options", "attempts"),
    [
        (lambda p: {k: v for k, v in _https(p).items() if k != "cert_validation"}, 1),
        (lambda p: _http(p, ssl=True, cert_validation=False), 1),
        (lambda p: _http(p, password="not-it"), 1),
        (lambda p: _http(p, port=_free_port()), 3),
    ],
    ids=["untrusted certificate", "TLS to an HTTP port", "wrong password", "refused"],
)
def test_tls_and_credential_failures_are_not_retried(
    places: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    options: Callable[[dict[str, Any]], dict[str, Any]],
    attempts: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ddperm")
    retry = ddperm.RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02)
    with ddperm.connect(**options(places), retry=retry) as host, pytest.raises(TransportError):
        host.version()
    tries = [r for r in caplog.records if r.name == "ddperm.executor" and r.levelname == "DEBUG"]
    assert len(tries) == attempts
