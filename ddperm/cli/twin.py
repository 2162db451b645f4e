"""``ddperm twin``: serve the Windows-host twin as a WinRM endpoint on 127.0.0.1."""

from __future__ import annotations

import secrets
import threading
from contextlib import ExitStack
from typing import Annotated

import typer

from ddperm.cli import app
from ddperm.cli.connection import password_source


@app.command()
def twin(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")
    ] = 5985,
    https: Annotated[
        bool, typer.Option("--https/--http", help="HTTPS with a fresh self-signed certificate.")
    ] = False,
    username: Annotated[str, typer.Option("--user", help="User name to accept.")] = "ddperm",
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="DDPERM_TWIN_PASSWORD",
            callback=password_source("DDPERM_TWIN_PASSWORD"),
            help="Password to accept (default: a random one, printed); '-' reads it from "
            "standard input.",
            show_default=False,
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="A machine before Docker Desktop (to try provisioning)."),
    ] = False,
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            help="Another login, NAME:PASSWORD, e.g. 'DEV-PC01\\alice:...' (a twin account "
            "that is no administrator, for the JEA endpoint).",
        ),
    ] = None,
) -> None:
    """Serve a twin machine over WinRM (Basic, NTLM/Negotiate) until Ctrl-C.

    It is healthy by default; ``--fresh`` serves one without Hyper-V or docker-users,
    for ``ddperm provision``. A restart script makes it go away briefly and come back.
    """
    from ddperm.testing import FakeHost
    from ddperm.testing.winrm import serve

    secret = password or secrets.token_urlsafe(12)
    machine = FakeHost.fresh() if fresh else FakeHost()
    logins = dict(item.partition(":")[::2] for item in account or [])
    if not all(logins.values()):
        raise typer.BadParameter("--account takes NAME:PASSWORD", param_hint="'--account'")
    with ExitStack() as stack:
        try:
            endpoint = stack.enter_context(
                serve(
                    machine,
                    auth="ntlm",
                    tls=https,
                    port=port,
                    username=username,
                    password=secret,
                    accounts=logins,
                )
            )
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} "
                "(--port 0 picks a free one)",
                param_hint="'--port'",
            ) from None
        typer.echo(f"ddperm twin listening on {endpoint.url}")
        typer.echo(f"user: {endpoint.username}  auth: basic, ntlm, negotiate")
        if password is None:
            typer.echo(f"password: {secret}")
        if endpoint.certificate is not None:
            typer.echo(f"certificate (trust it as the CA): {endpoint.certificate}")
        typer.echo("Press Ctrl-C to stop.", err=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)
