"""Every failure a command can end in, as one line and one exit code.

``classify`` is the one place that decides which exit code an exception means;
``summarize_transport`` turns requests'/urllib3's nested reprs into one sentence.
"""

from __future__ import annotations

import errno
import re

import typer
from pydantic import ValidationError

from ddperm.cli.exitcodes import ExitCode
from ddperm.cli.output import one_line
from ddperm.errors import (
    AuthenticationError,
    DdpermError,
    HostError,
    OutputError,
    PolicyError,
    TransportError,
)
from ddperm.service import ServiceStartError
from ddperm.service.client import ServiceError
from ddperm.service.protocol import summarize

# typer exports only BadParameter of click's error classes (and vendors click since 0.26):
# the usage and CLI error classes are its bases.
CLI_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

_SERVICE_CODES = {
    "bad_json": ExitCode.USAGE,
    "bad_request": ExitCode.USAGE,
    "unknown_route": ExitCode.USAGE,
    "too_large": ExitCode.USAGE,
    "policy_refused": ExitCode.USAGE,
    "forbidden": ExitCode.UNREACHABLE,
    "busy": ExitCode.UNREACHABLE,
    "timeout": ExitCode.UNREACHABLE,
    "bad_frame": ExitCode.UNREACHABLE,
    "truncated": ExitCode.UNREACHABLE,
    "transport_error": ExitCode.UNREACHABLE,
}
"""Service error codes; the rest (host_error, output_error, internal_error) are HOST_FAILED."""

EXTRAS = {
    "psrpcore": "twin",
    "spnego": "twin",
    "cryptography": "twin",
    "ansible": "fleet",
    "pandas": "fleet",
    "matplotlib": "fleet",
    "dask": "fleet",
    "distributed": "fleet",
    "gssapi": "kerberos",
    "krb5": "kerberos",
    "requests_credssp": "credssp",
}
"""Top-level module -> the ddperm extra that installs it."""

_WHERE = re.compile(r"host='([^']*)', port=(\d+)")
_TRANSPORT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Failed to resolve|Name or service not known|getaddrinfo failed", re.I),
        "cannot resolve the host name {host}",
    ),
    (
        re.compile(r"Connection refused|actively refused", re.I),
        "{where} refused the connection (is WinRM listening on that port?)",
    ),
    (
        re.compile(r"CERTIFICATE_VERIFY_FAILED\] certificate verify failed: ([^(]*?) ?\(", re.I),
        "the certificate of {where} is not trusted ({0}): pass --ca-cert FILE or --insecure",
    ),
    (
        re.compile(r"WRONG_VERSION_NUMBER|record layer failure|packet length too long", re.I),
        "{where} does not answer TLS; it may serve plain HTTP: add --http",
    ),
    (
        re.compile(r"Remote end closed connection|Connection reset|Connection aborted", re.I),
        "{where} closed the connection without an answer (HTTPS there? drop --http)",
    ),
    (re.compile(r"timed? ?out", re.I), "{where} did not answer in time"),
)


def summarize_transport(text: str) -> str:
    """One sentence for a transport failure's text (requests/urllib3 nest several reprs)."""
    where = _WHERE.search(text)
    host, port = (where[1], where[2]) if where else (text.split(":", 1)[0], "")
    place = f"{host}:{port}" if port else host
    for pattern, sentence in _TRANSPORT_RULES:
        found = pattern.search(text)
        if found:
            return sentence.format(*found.groups(), host=host, where=place)
    return one_line(text)


def classify(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code ``exc`` means and the one line that explains it."""
    from ddperm.provision import ElevationRequired

    if isinstance(exc, CLI_ERROR):
        return ExitCode.USAGE, _usage(exc)
    if isinstance(exc, ServiceError):
        code = _SERVICE_CODES.get(exc.code, ExitCode.HOST_FAILED)
        return code, f"the service answered {exc.code}: {exc.message}"
    if isinstance(exc, (AuthenticationError, ElevationRequired)):
        return ExitCode.UNREACHABLE, str(exc)
    if isinstance(exc, TransportError):
        return ExitCode.UNREACHABLE, summarize_transport(str(exc))
    if isinstance(exc, (HostError, OutputError)):
        return ExitCode.HOST_FAILED, f"the host reported an error: {exc}"
    if isinstance(exc, PolicyError):
        return ExitCode.USAGE, f"refused: {exc}"
    if isinstance(exc, ServiceStartError):
        return ExitCode.USAGE, f"the service refuses to start: {exc}"
    if isinstance(exc, ValidationError):
        return ExitCode.USAGE, summarize(exc)
    if isinstance(exc, ValueError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, ImportError):
        return ExitCode.USAGE, _missing(exc)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ExitCode.UNREACHABLE, summarize_transport(str(exc))
    if isinstance(exc, OSError):
        return ExitCode.USAGE, _os_error(exc)
    if isinstance(exc, DdpermError):
        return ExitCode.HOST_FAILED, f"{type(exc).__name__}: {exc}"
    return ExitCode.INTERNAL, (
        f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)"
    )


def _usage(exc: BaseException) -> str:
    message = str(exc.format_message()).replace("Value error, ", "")  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, USAGE_ERROR) and ctx is not None and message:
        message = f"{message} (see '{ctx.command_path} --help')"
    return message


def _missing(exc: ImportError) -> str:
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return str(exc)
    return f"this needs the optional package {top}: pip install 'ddperm[{extra}]'"


def _os_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{exc.filename} is a symbolic link; refusing to follow it"
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason
