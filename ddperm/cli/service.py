"""``ddperm service install | uninstall | status | start | stop``: the helper, installed.

Windows: a LocalSystem service in the Service Control Manager (automatic start, restart
on failure), settings in HKLM, events in the Event Log. Linux: a systemd socket unit
(root:<group> 0660) that starts ``ddperm serve --systemd`` on the first connection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ddperm.cli import app
from ddperm.service.config import default_address, default_audit_log
from ddperm.service.installer import (
    Platform,
    SystemdPlatform,
    install,
    this_platform,
    uninstall,
)
from ddperm.service.server import DEFAULT_GROUP
from ddperm.service.settings import Backend, ServiceSettings

service_app = typer.Typer(
    name="service", help="Install, remove, start, stop or show the helper as a system service."
)
app.add_typer(service_app)

UnitDir = Annotated[
    Path | None,
    typer.Option(help="Linux: write the systemd units here (default /etc/systemd/system)."),
]


def _platform(unit_dir: Path | None) -> Platform:
    return SystemdPlatform(unit_dir) if unit_dir is not None else this_platform()


def _installing_user() -> str | None:
    """Who asked for the install: the user behind sudo, or the elevated user on Windows."""
    if sys.platform == "win32":
        return f"{os.environ.get('USERDOMAIN', '')}\\{os.environ.get('USERNAME', '')}".strip("\\")
    return os.environ.get("SUDO_USER") or None


@service_app.command("install")
def install_command(
    group: Annotated[str, typer.Option(help="The group let in besides administrators.")] = (
        DEFAULT_GROUP
    ),
    user: Annotated[
        str | None, typer.Option(help="Add this user to the group (default: who ran sudo).")
    ] = None,
    no_windows_containers: Annotated[
        bool, typer.Option("--no-windows-containers", help="Refuse every Windows-engine route.")
    ] = False,
    backend: Annotated[
        Backend, typer.Option(help="local: this Windows machine; twin: the demo twin.")
    ] = "local",
    address: Annotated[str | None, typer.Option(help="Socket path or pipe name.")] = None,
    audit_log: Annotated[Path | None, typer.Option(help="Audit log (JSON lines).")] = None,
    unit_dir: UnitDir = None,
    no_start: Annotated[bool, typer.Option("--no-start", help="Register only.")] = False,
) -> None:
    """Register the helper as a service (as an administrator), create the group, add you."""
    settings = ServiceSettings(
        address=address or default_address(),
        audit_log=str(audit_log or default_audit_log()),
        group=group,
        windows_containers_enabled=not no_windows_containers,
        backend=backend,
    )
    report = install(
        _platform(unit_dir), settings, user=user or _installing_user(), start=not no_start
    )
    typer.echo(report.model_dump_json(indent=2))


@service_app.command("uninstall")
def uninstall_command(
    remove_group: Annotated[
        bool, typer.Option("--remove-group", help="Also delete the service group.")
    ] = False,
    remove_audit_log: Annotated[
        bool, typer.Option("--remove-audit-log", help="Also delete the audit log folder.")
    ] = False,
    unit_dir: UnitDir = None,
) -> None:
    """Stop and remove the service; the group and the audit log stay unless asked."""
    platform = _platform(unit_dir)
    settings = platform.status().settings
    status = uninstall(
        platform,
        remove_group=settings.group if remove_group and settings else None,
        remove_audit_log=Path(settings.audit_log) if remove_audit_log and settings else None,
    )
    typer.echo(status.model_dump_json(indent=2))


@service_app.command("status")
def status_command(unit_dir: UnitDir = None) -> None:
    """Installed or not, its state, and the settings it was installed with; exit 1 if absent."""
    status = _platform(unit_dir).status()
    typer.echo(status.model_dump_json(indent=2))
    raise typer.Exit(0 if status.installed else 1)


@service_app.command("start")
def start_command(unit_dir: UnitDir = None) -> None:
    """Start the installed service."""
    _platform(unit_dir).start()


@service_app.command("stop")
def stop_command(unit_dir: UnitDir = None) -> None:
    """Stop the installed service."""
    _platform(unit_dir).stop()


@service_app.command("run", hidden=True)
def run_command() -> None:
    """What the Windows Service Control Manager starts (not for people)."""
    if sys.platform != "win32":
        typer.echo("ddperm service run is for Windows; on Linux systemd runs serve", err=True)
        raise typer.Exit(2)
    from ddperm.service import windows_scm

    windows_scm.run_as_service()  # defined on Windows only
