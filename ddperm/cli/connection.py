"""Connection options shared by the commands that reach a real host over WinRM.

Credentials come from flags, the environment (DDPERM_USERNAME, DDPERM_PASSWORD) or a
hidden prompt (``--ask-password``); they are never echoed, printed or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from ddperm.fleet.targets import Auth, Target

Port = Annotated[int | None, typer.Option(help="WinRM port (default 5986 https, 5985 http).")]
Https = Annotated[bool, typer.Option("--https/--http", help="HTTPS (default) or HTTP.")]
AuthOpt = Annotated[str, typer.Option("--auth", help="negotiate, ntlm, kerberos, basic, ...")]
User = Annotated[str | None, typer.Option("--user", envvar="DDPERM_USERNAME", show_default=False)]
Password = Annotated[
    str | None,
    typer.Option("--password", envvar="DDPERM_PASSWORD", show_default=False, show_envvar=True),
]
AskPassword = Annotated[bool, typer.Option("--ask-password", help="Prompt (hidden) for it.")]
CACert = Annotated[
    str | None, typer.Option("--ca-cert", help="PEM bundle to trust for the host's certificate.")
]
Insecure = Annotated[bool, typer.Option("--insecure", help="Do not validate the certificate.")]
Encryption = Annotated[
    str,
    typer.Option(
        "--encryption",
        help="auto, always or never (never is needed for basic auth over --http).",
    ),
]


def password_from(password: str | None, ask: bool) -> str | None:
    if ask:
        return str(typer.prompt("Password", hide_input=True))
    return password


def target_options(
    *,
    port: int | None,
    https: bool,
    auth: str,
    user: str | None,
    password: str | None,
    ca_cert: str | None,
    insecure: bool,
    encryption: str = "auto",
) -> dict[str, Any]:
    """Target fields from the command-line flags (validated by ``Target``)."""
    if insecure and ca_cert:
        raise typer.BadParameter("--insecure and --ca-cert contradict each other")
    if encryption not in ("auto", "always", "never"):
        raise typer.BadParameter("--encryption must be auto, always or never")
    options: dict[str, Any] = {
        "port": port,
        "ssl": https,
        "auth": _auth(auth),
        "encryption": encryption,
    }
    if user:
        options["username"] = user
    if password:
        options["password"] = password
    options["cert_validation"] = False if insecure else (ca_cert or True)
    return options


def _auth(value: str) -> Auth:
    allowed: tuple[Auth, ...] = ("negotiate", "ntlm", "kerberos", "basic", "certificate", "credssp")
    for choice in allowed:
        if value == choice:
            return choice
    raise typer.BadParameter(f"--auth must be one of {', '.join(allowed)}")


CONNECTION_FLAGS = (
    "port",
    "https",
    "auth",
    "user",
    "password",
    "ask_password",
    "ca_cert",
    "insecure",
    "encryption",
)
"""The connection options every host command declares (Port, Https, AuthOpt, ... above)."""


def target_from(server: str, command_locals: Mapping[str, Any]) -> Target:
    """The Target a command's connection flags describe (pass the command's ``locals()``)."""
    flags = {name: command_locals[name] for name in CONNECTION_FLAGS}
    flags["password"] = password_from(flags["password"], flags.pop("ask_password"))
    return Target(name=server, server=server, **target_options(**flags))
