"""``ddperm conformance [HOST] | --local powershell.exe|pwsh``: does the twin answer like
this machine? Runs only read-only scripts; writes a JSON report to attach to a fidelity bug."""

from __future__ import annotations

import getpass
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ddperm.cli import app
from ddperm.cli.connection import (
    AskPassword,
    AuthOpt,
    CACert,
    Encryption,
    Https,
    Insecure,
    Password,
    Port,
    User,
    target_from,
)
from ddperm.components.setup import MEMBER_PATTERN
from ddperm.conformance import run_conformance
from ddperm.errors import DdpermError
from ddperm.transports.local import local

EXIT_NOT_RUN = 2


def _account(user: str | None) -> str | None:
    """``user`` if docker_users_status accepts it as an account name (a UPN it does not)."""
    return user if user and re.fullmatch(MEMBER_PATTERN, user) else None


def _local_user() -> str | None:
    """Who runs this command, as ``DOMAIN\\user`` when Windows says the domain."""
    name = getpass.getuser()
    domain = os.environ.get("USERDOMAIN")
    return _account(f"{domain}\\{name}" if domain else name)


def _default_output(host: str | None, redact: bool) -> Path:
    who = "local" if host is None else ("remote" if redact else re.sub(r"[^\w.-]", "_", host))
    return Path(f"conformance-{who}-{datetime.now():%Y%m%d-%H%M%S}.json")


@app.command(name="conformance")
def conformance_command(
    host: Annotated[
        str | None, typer.Argument(help="Windows machine to reach over WinRM (or use --local).")
    ] = None,
    local_exe: Annotated[
        str | None,
        typer.Option("--local", help="Run on this machine through powershell.exe or pwsh."),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option(help="Account to ask docker-users about (default: you, when known)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Report file (default: conformance-<host>-<time>.json here)."
        ),
    ] = None,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact/--no-redact", help="Replace computer, user and domain names and profiles."
        ),
    ] = True,
    port: Port = None,
    https: Https = True,
    auth: AuthOpt = "negotiate",
    user: User = None,
    password: Password = None,
    ask_password: AskPassword = False,
    ca_cert: CACert = None,
    insecure: Insecure = False,
    encryption: Encryption = "auto",
) -> None:
    """Run every read-only script on HOST (or this machine) and on a twin seeded from its
    answers; report each difference in outcome, error id, category and shape. Changes nothing.

    Exit codes: 0 no difference, 1 differences (attach the report to a bug), 2 not run.
    """
    if (host is None) == (local_exe is None):
        raise typer.BadParameter("give a HOST or --local powershell.exe|pwsh (one of them)")
    if member is not None and _account(member) is None:
        raise typer.BadParameter(f"--member is 'user' or 'DOMAIN\\user', not {member!r}")
    names = [n for n in (user, member) if n]
    hosts = [host] if host else []
    if local_exe is not None:
        transport = f"local {local_exe}"
        member = member or _local_user()
        names += [getpass.getuser(), os.environ.get("USERDOMAIN", "")]
        hosts.append(os.environ.get("COMPUTERNAME", ""))
    else:
        transport = "WinRM"
        member = member or _account(user)
    try:
        target = (
            local(local_exe, persistent=True)
            if local_exe is not None
            else target_from(str(host), locals()).connect()
        )
        with target:
            report = run_conformance(
                target,
                transport=transport,
                member=member,
                redact=redact,
                names=[n for n in names if n],
                hosts=[h for h in hosts if h],
            )
    except DdpermError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_RUN) from None
    path = output or _default_output(host, redact)
    path.write_text(report.to_json() + "\n", encoding="utf-8")
    typer.echo(report.summary())
    typer.echo(f"Report: {path.resolve()}")
    if not report.ok:
        typer.echo("The twin differs from this machine: attach the JSON to a fidelity bug report.")
    raise typer.Exit(0 if report.ok else 1)
