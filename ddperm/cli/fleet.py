"""``ddperm health HOST`` and ``ddperm audit INVENTORY``: exit 1 when problems are found."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
    password_from,
    target_from,
    target_options,
)
from ddperm.fleet import FleetReport, Target, audit, check_host, load_targets
from ddperm.fleet.report import HostResult

console = Console(highlight=False)
_STYLE = {"healthy": "green", "unhealthy": "yellow"}


def _host_table(result: HostResult) -> Table:
    table = Table(title=f"{result.name}: {result.outcome}", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("fix")
    if result.report is None:
        table.add_row("-", "[red]not asked[/]", result.error or "")
        return table
    for name, check in result.report.checks.items():
        fixes = "\n".join(f"[{p.code}] {p.fix}" for p in check.problems) or "-"
        colour = {"ok": "green", "problem": "yellow", "disabled": "dim"}.get(check.status, "red")
        table.add_row(name, f"[{colour}]{check.status}[/]", fixes)
    return table


def _fleet_table(report: FleetReport) -> Table:
    rows = report.rows()
    table = Table(title=report.summary(), title_justify="left")
    columns = [c for c in (rows[0] if rows else {}) if c not in ("server", "groups", "seconds")]
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells = ["" if row[c] is None else str(row[c]) for c in columns]
        style = _STYLE.get(row["outcome"], "red")
        table.add_row(*cells, style=None if style == "green" else style)
    return table


@app.command()
def health(
    host: Annotated[str, typer.Argument(help="Host name or address of the Windows machine.")],
    port: Port = None,
    https: Https = True,
    auth: AuthOpt = "negotiate",
    user: User = None,
    password: Password = None,
    ask_password: AskPassword = False,
    ca_cert: CACert = None,
    insecure: Insecure = False,
    encryption: Encryption = "auto",
    deadline: Annotated[float, typer.Option(help="Seconds before giving up.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every health check of one machine in one round trip; exit 1 unless healthy."""
    target = target_from(host, locals())
    result = check_host(target, deadline)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        console.print(_host_table(result))
    raise typer.Exit(0 if result.outcome == "healthy" else 1)


@app.command(name="audit")
def audit_command(
    inventory: Annotated[Path, typer.Argument(help="Ansible inventory (INI/YAML/folder) or .csv")],
    user: User = None,
    password: Password = None,
    ask_password: AskPassword = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Hosts at once.")] = 16,
    deadline: Annotated[float, typer.Option(min=1, help="Seconds per host.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    jea: Annotated[
        bool, typer.Option("--jea", help="Through each host's JEA endpoint 'ddperm'.")
    ] = False,
) -> None:
    """Audit every machine of an inventory; exit 1 if any is not healthy."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    defaults = target_options(
        port=None,
        https=True,
        auth="negotiate",
        user=user,
        password=password_from(password, ask_password),
        ca_cert=None,
        insecure=False,
    )
    credentials = {k: v for k, v in defaults.items() if k in ("username", "password")}
    targets = [
        Target.model_validate(
            t.model_dump()
            | {k: v for k, v in credentials.items() if getattr(t, k) is None}
            | ({"configuration_name": "ddperm"} if jea else {})
        )
        for t in load_targets(inventory)
    ]
    report = audit(targets, concurrency=concurrency, deadline=deadline, progress=not quiet)
    if as_json:
        typer.echo(report.to_json(indent=2))
    elif as_csv:
        buffer = io.StringIO()
        rows = report.rows()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["host"])
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        console.print(_fleet_table(report))
    raise typer.Exit(0 if report.ok else 1)
