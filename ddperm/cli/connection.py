"""Connection options shared by the commands that reach a real host over WinRM.

Credentials come from flags, the environment (DDPERM_USERNAME, DDPERM_PASSWORD) or a
hidden prompt (``--ask-password``); they are never echoed, printed or logged. Every
option is checked when it is parsed (port range, choices, the CA file exists, a host
name), so a wrong flag is a usage error before anything is sent.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ddperm.fleet.targets import Auth, Target

_HOST = re.compile(r"[^\s\x00-\x1f\x7f]+")
_NEEDS_CREDENTIALS: tuple[Auth, ...] = ("ntlm", "basic", "credssp")
_NO_ENCRYPTION: tuple[Auth, ...] = ("basic", "certificate")
log = logging.getLogger(__name__)


def check_host(value: str) -> str:
    """A host name or address: not empty, no spaces or control characters."""
    if not _HOST.fullmatch(value):
        raise typer.BadParameter(f"not a host name or address: {value!r}")
    return value


def check_port(value: int | None) -> int | None:
    """A TCP port, 1 to 65535 (or None: the default for the scheme)."""
    if value is not None and not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port number (1 to 65535)")
    return value


def check_positive(value: float) -> float:
    """Seconds: more than zero."""
    if not value > 0:
        raise typer.BadParameter(f"must be more than 0 seconds, not {value:g}")
    return value


HostArg = Annotated[
    str,
    typer.Argument(
        metavar="HOST",
        help="Host name or address of the Windows machine.",
        callback=check_host,
        show_default=False,
    ),
]
Port = Annotated[
    int | None,
    typer.Option(
        callback=check_port, help="WinRM port  [default: 5986 with --https, 5985 with --http]"
    ),
]
Https = Annotated[bool, typer.Option("--https/--http", help="HTTPS (certificate checked) or HTTP.")]
AuthOpt = Annotated[Auth, typer.Option("--auth", help="How to log in.")]
User = Annotated[
    str | None,
    typer.Option(
        "--user",
        envvar="DDPERM_USERNAME",
        show_envvar=True,
        show_default=False,
        help="User name (DOMAIN\\user or user@domain for a domain account).",
    ),
]


def password_source(envvar: str) -> Callable[[str | None], str | None]:
    """The ``--password`` callback: ``-`` reads one line from standard input (``< file`` for a
    password file); a password typed on the command line works, with a warning, as every
    local user can read a process's arguments (ps, /proc/PID/cmdline, Task Manager)."""

    def take(value: str | None) -> str | None:
        if value == "-":
            return sys.stdin.readline().rstrip("\r\n") or None
        if value and value != os.environ.get(envvar):
            typer.echo(
                "ddperm: warning: a password on the command line is visible to every local "
                f"user; use {envvar}, --password - (standard input) or --ask-password",
                err=True,
            )
        return value

    return take


Password = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="DDPERM_PASSWORD",
        show_default=False,
        show_envvar=True,
        callback=password_source("DDPERM_PASSWORD"),
        help="Password: better the environment variable, '-' to read it from standard input, "
        "or --ask-password (on the command line every local user can read it).",
    ),
]
AskPassword = Annotated[bool, typer.Option("--ask-password", help="Prompt (hidden) for it.")]
CACert = Annotated[
    Path | None,
    typer.Option(
        "--ca-cert",
        exists=True,
        dir_okay=False,
        readable=True,
        help="PEM bundle to trust for the host's certificate.",
    ),
]
Insecure = Annotated[bool, typer.Option("--insecure", help="Do not validate the certificate.")]
EncryptionMode = Literal["auto", "always", "never"]
Encryption = Annotated[
    EncryptionMode,
    typer.Option(
        "--encryption", help="Message encryption (never: needed for --auth basic over --http)."
    ),
]
Deadline = Annotated[float, typer.Option(callback=check_positive, help="Seconds before giving up.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def password_from(password: str | None, ask: bool) -> str | None:
    if ask:
        return str(typer.prompt("Password", hide_input=True))
    return password


def target_options(
    *,
    port: int | None,
    https: bool,
    auth: Auth,
    user: str | None,
    password: str | None,
    ca_cert: Path | None,
    insecure: bool,
    encryption: EncryptionMode = "auto",
) -> dict[str, Any]:
    """Target fields from the command-line flags (validated by ``Target``)."""
    if insecure and ca_cert:
        raise typer.BadParameter("--insecure and --ca-cert contradict each other")
    options: dict[str, Any] = {"port": port, "ssl": https, "auth": auth, "encryption": encryption}
    if user:
        options["username"] = user
    if password:
        options["password"] = password
    options["cert_validation"] = False if insecure else (str(ca_cert) if ca_cert else True)
    return options


_KEYWORD = inspect.Parameter.KEYWORD_ONLY
CONNECTION_PARAMETERS = (
    inspect.Parameter("port", _KEYWORD, annotation=Port, default=None),
    inspect.Parameter("https", _KEYWORD, annotation=Https, default=True),
    inspect.Parameter("auth", _KEYWORD, annotation=AuthOpt, default="negotiate"),
    inspect.Parameter("user", _KEYWORD, annotation=User, default=None),
    inspect.Parameter("password", _KEYWORD, annotation=Password, default=None),
    inspect.Parameter("ask_password", _KEYWORD, annotation=AskPassword, default=False),
    inspect.Parameter("ca_cert", _KEYWORD, annotation=CACert, default=None),
    inspect.Parameter("insecure", _KEYWORD, annotation=Insecure, default=False),
    inspect.Parameter("encryption", _KEYWORD, annotation=Encryption, default="auto"),
)
"""The connection options every host command takes (see ``connected``)."""


def connected(command: Callable[..., None]) -> Callable[..., None]:
    """Give a host command the connection options; it is called with ``target`` instead.

    The command declares ``host`` (the machine; ``None`` allowed) and ``target`` (the
    ``Target`` its options describe, ``None`` without a host); the options show in its
    ``--help`` after its own.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "target"]
    names = [p.name for p in CONNECTION_PARAMETERS]

    @functools.wraps(command)
    def run(**options: Any) -> None:
        flags = {name: options.pop(name) for name in names}
        host = options["host"]
        command(**options, target=None if host is None else target_from(host, flags))

    wrapped = signature.replace(parameters=[*own, *CONNECTION_PARAMETERS])
    run.__signature__ = wrapped  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in wrapped.parameters.values()}
    return run


def target_from(server: str, flags: Mapping[str, Any]) -> Target:
    """The Target for ``server`` that the connection options in ``flags`` describe."""
    options = {p.name: flags[p.name] for p in CONNECTION_PARAMETERS}
    options["password"] = password_from(options["password"], options.pop("ask_password"))
    auth = options["auth"]
    if auth in _NEEDS_CREDENTIALS and not options["user"]:
        raise typer.BadParameter(
            f"--auth {auth} needs --user (or DDPERM_USERNAME)", param_hint="'--user'"
        )
    if auth in _NEEDS_CREDENTIALS and not options["password"]:
        raise typer.BadParameter(
            f"--auth {auth} needs a password: DDPERM_PASSWORD or --ask-password",
            param_hint="'--password'",
        )
    if auth in _NO_ENCRYPTION and options["encryption"] != "never" and not options["https"]:
        raise typer.BadParameter(
            f"--auth {auth} cannot encrypt messages over --http: add --encryption never "
            "(the password and data then travel in clear) or use --https",
            param_hint="'--encryption'",
        )
    target = Target(name=server, server=server, **target_options(**options))
    log.info("%s: %s", server, connection_flags(target) or "default connection options")
    return target


def connection_flags(target: Target) -> str:
    """The options (never the password) that reach ``target`` again, as command-line text."""
    flags = [] if target.port is None else ["--port", str(target.port)]
    flags += [] if target.ssl else ["--http"]
    flags += [] if target.auth == "negotiate" else ["--auth", target.auth]
    flags += [] if target.username is None else ["--user", target.username]
    if target.cert_validation is False:
        flags.append("--insecure")
    elif isinstance(target.cert_validation, str):
        flags += ["--ca-cert", target.cert_validation]
    flags += [] if target.encryption == "auto" else ["--encryption", target.encryption]
    return shlex.join(flags)
