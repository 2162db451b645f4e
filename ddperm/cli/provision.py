"""``ddperm provision HOST --check | --apply``: bring a developer machine to a desired state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from ddperm.cli import app
from ddperm.cli.connection import HostArg, connected
from ddperm.cli.exitcodes import ExitCode
from ddperm.cli.output import cell, console, one_line
from ddperm.components.vm import GIB, VMSpec
from ddperm.errors import DdpermError
from ddperm.fleet import Target
from ddperm.provision import ApplyResult, DesiredState, Plan, apply, plan

_STATUS_STYLE = {"done": "green", "failed": "red", "not_done": "yellow"}


def desired_state(
    file: Path | None,
    docker_users: list[str],
    create_vm: bool,
    cpus: int,
    memory_gib: int,
    disk_gib: int,
    data_folder: str | None,
    engine: str | None,
) -> DesiredState:
    """The desired state from a JSON file (if given), then the flags on top of it."""
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8")) if file else {}
    if docker_users:
        data["docker_users"] = docker_users
    if create_vm:
        spec: dict[str, Any] = {
            "cpus": cpus,
            "memory_bytes": memory_gib * GIB,
            "disk_size_bytes": disk_gib * GIB,
        }
        if data_folder:
            spec["data_folder"] = data_folder
        data["vm"] = VMSpec(**spec)
    if engine:
        data["engine"] = engine
    return DesiredState.model_validate(data)


def _plan_table(planned: Plan) -> Table:
    table = Table(title="plan (nothing changed yet)", title_justify="left")
    for column in ("#", "step", "target", "before", "after"):
        table.add_column(column)
    for i, step in enumerate(planned.steps, 1):
        table.add_row(str(i), step.kind, cell(step.target), cell(step.before), cell(step.after))
    return table


def _result_table(result: ApplyResult) -> Table:
    table = Table(title="apply", title_justify="left")
    for column in ("step", "target", "status", "detail"):
        table.add_column(column)
    for r in result.results:
        status = Text(r.status, style=_STATUS_STYLE[r.status])
        table.add_row(r.step.kind, cell(r.step.target), status, cell(r.detail))
    return table


@app.command(name="provision")
@connected
def provision_command(
    host: HostArg,
    check: Annotated[bool, typer.Option("--check", help="Show the plan, change nothing.")] = False,
    do_apply: Annotated[bool, typer.Option("--apply", help="Carry the plan out.")] = False,
    allow_reboot: Annotated[
        bool, typer.Option("--allow-reboot", help="Restart Windows when a step needs it.")
    ] = False,
    desired_file: Annotated[
        Path | None,
        typer.Option(
            "--desired", exists=True, dir_okay=False, help="JSON file with the desired state."
        ),
    ] = None,
    docker_user: Annotated[
        list[str] | None, typer.Option("--docker-user", help="Account for docker-users.")
    ] = None,
    vm: Annotated[bool, typer.Option("--vm", help="Create DockerDesktopVM.")] = False,
    cpus: Annotated[int, typer.Option(min=1, help="VM CPUs.")] = 2,
    memory_gib: Annotated[int, typer.Option(min=1, help="VM memory, GiB.")] = 2,
    disk_gib: Annotated[int, typer.Option(min=1, help="VM disk, GiB.")] = 64,
    data_folder: Annotated[str | None, typer.Option(help="Folder for the VHDX.")] = None,
    engine: Annotated[
        Literal["running", "stopped"] | None, typer.Option(help="The Windows engine's state.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    *,
    target: Target,
) -> None:
    """Compare HOST with the desired state (--check) or make it so (--apply).

    Exit codes: 0 in the desired state (or applied); 5 changes pending (--check), or a
    restart is needed and --allow-reboot was not given; 4 a step failed.
    """
    if check == do_apply:
        raise typer.BadParameter("give exactly one of --check and --apply")
    try:
        desired = desired_state(
            desired_file, docker_user or [], vm, cpus, memory_gib, disk_gib, data_folder, engine
        )
    except (ValidationError, ValueError, DdpermError) as exc:
        raise typer.BadParameter(f"desired state: {exc}") from exc
    out = console()
    with target.connect() as connection:
        planned = plan(connection, desired)
        if not planned.steps:
            out.print(cell(f"{host}: already in the desired state; nothing to do"))
            raise typer.Exit(ExitCode.OK)
        out.print(_plan_table(planned))
        if check:
            raise typer.Exit(ExitCode.CHANGES_PENDING)
        result = apply(planned, allow_reboot=allow_reboot, progress=not quiet)
    out.print(_result_table(result))
    if result.error is not None:
        typer.echo(f"ddperm: error: a step failed: {one_line(result.error)}", err=True)
        raise typer.Exit(ExitCode.HOST_FAILED)
    if result.reboot_required:
        out.print("Windows must restart to finish; run again with --allow-reboot.")
        raise typer.Exit(ExitCode.CHANGES_PENDING)
    raise typer.Exit(ExitCode.OK)
