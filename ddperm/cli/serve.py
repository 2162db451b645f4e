"""``ddperm serve``: run the privileged helper on its protected socket or pipe."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ddperm.cli import app
from ddperm.cli.connection import check_positive
from ddperm.errors import DdpermError
from ddperm.host import Host
from ddperm.service import DEFAULT_GROUP, Limits, ServiceStartError, running
from ddperm.service.backends import BACKEND_NAMES, make_host
from ddperm.service.config import default_address, default_audit_log
from ddperm.service.settings import Backend


@app.command()
def serve(
    address: Annotated[
        str | None, typer.Option("--address", "-a", help="Socket path or pipe name.")
    ] = None,
    group: Annotated[str, typer.Option(help="The only group (besides admins) let in.")] = (
        DEFAULT_GROUP
    ),
    audit_log: Annotated[
        Path | None,
        typer.Option(help="Audit log (JSON lines).  [default: the system's, see README]"),
    ] = None,
    no_windows_containers: Annotated[
        bool, typer.Option("--no-windows-containers", help="Refuse every Windows-engine route.")
    ] = False,
    read_timeout: Annotated[
        float, typer.Option(callback=check_positive, help="Seconds a request may take to arrive.")
    ] = 10.0,
    backend: Annotated[
        Backend, typer.Option(help="twin: the in-process Windows-host twin; local: this machine.")
    ] = "twin",
    systemd: Annotated[
        bool,
        typer.Option(
            "--systemd", help="Serve the socket systemd passes (socket activation, Linux)."
        ),
    ] = False,
) -> None:
    """Run the helper until interrupted; without a real host (the default) it serves the twin.

    Exit codes: 0 stopped by SIGINT/SIGTERM; 2 it refused to start (no such group, the
    audit log or the socket cannot be used safely, no PowerShell for --backend local, no
    socket from systemd with --systemd).
    """
    address = address or default_address()
    audit_log = audit_log or default_audit_log()
    enabled = not no_windows_containers

    def host() -> Host:
        try:
            return make_host(backend, windows_containers_enabled=enabled)
        except DdpermError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"'--backend {backend}'") from None

    inherited = None
    if systemd:
        from ddperm.service.systemd import inherited_socket

        inherited = inherited_socket()
        if inherited is None:
            raise ServiceStartError("--systemd, but systemd passed no socket (LISTEN_FDS)")
        address = str(inherited.getsockname())

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with running(
        host,
        address=address,
        group=group,
        audit_log=audit_log,
        windows_containers_enabled=enabled,
        limits=Limits(read_timeout=read_timeout),
        inherited=inherited,
    ):
        signal.signal(signal.SIGINT, on_signal)  # once started: a refusal leaves them alone
        signal.signal(signal.SIGTERM, on_signal)
        typer.echo(
            f"ddperm service on {address} for {group} (and administrators); "
            f"backend: {BACKEND_NAMES[backend]}; "
            f"windows containers {'enabled' if enabled else 'disabled'}; audit log {audit_log}",
            err=True,
        )
        while not stop.wait(1.0):
            pass
    typer.echo("ddperm service stopped", err=True)
