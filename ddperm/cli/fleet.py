"""``ddperm health HOST`` and ``ddperm audit INVENTORY``: exit 1 when problems are found."""

from __future__ import annotations

import csv
import io
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ddperm.cli import app, quiet_second_interrupt
from ddperm.cli.connection import (
    AsJson,
    AskPassword,
    Deadline,
    HostArg,
    Password,
    User,
    check_positive,
    connected,
    connection_flags,
    password_from,
)
from ddperm.cli.exitcodes import ExitCode
from ddperm.cli.failures import summarize_transport
from ddperm.cli.output import cell, clean, console, print_json
from ddperm.components.health import HealthReport, Problem
from ddperm.fleet import FleetReport, Target, audit, connect_target, load_targets

_STYLE = {"healthy": "green", "unhealthy": "yellow"}
_CHECK_STYLE = {"ok": "green", "problem": "yellow", "disabled": "dim"}
_TRANSPORT_OUTCOMES = ("unreachable", "timed_out")


def fix_text(problem: Problem, target: Target) -> str:
    """A problem's fix for the command line: the words, then the ddperm command to run."""
    text = f"[{problem.code}] {problem.fix}"
    if problem.command:
        where = " ".join(filter(None, (shlex.quote(target.server), connection_flags(target))))
        text += "\n  " + problem.command.replace("HOST", where)
    return clean(text)


def _health_table(target: Target, report: HealthReport) -> Table:
    outcome = "healthy" if report.healthy else "unhealthy"
    table = Table(title=cell(f"{target.name}: {outcome}"), title_justify="left")
    for column in ("check", "status", "fix"):
        table.add_column(column)
    for name, check in report.checks.items():
        fixes = "\n".join(fix_text(p, target) for p in check.problems) or "-"
        status = Text(check.status, style=_CHECK_STYLE.get(check.status, "red"))
        table.add_row(name, status, Text(fixes))
    return table


def _fleet_table(report: FleetReport) -> Table:
    rows = report.rows()
    table = Table(title=cell(report.summary()), title_justify="left")
    columns = [c for c in (rows[0] if rows else {}) if c not in ("server", "groups", "seconds")]
    for column in columns:
        table.add_column(column)
    for row in rows:
        if row["outcome"] in _TRANSPORT_OUTCOMES:
            row["error"] = summarize_transport(row["error"])
        style = _STYLE.get(row["outcome"], "red")
        cells = [cell("" if row[c] is None else row[c]) for c in columns]
        table.add_row(*cells, style=None if style == "green" else style)
    return table


def _csv(report: FleetReport) -> str:
    rows = report.rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["host"])
    writer.writeheader()
    writer.writerows({k: clean(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows)
    return buffer.getvalue()


@app.command()
@connected
def health(
    host: HostArg,
    deadline: Deadline = 60.0,
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Every health check of one machine in one round trip; exit 1 unless healthy."""
    with connect_target(target, deadline) as machine:
        report = machine.health()
    if as_json:
        print_json(report)
    else:
        console().print(_health_table(target, report))
    raise typer.Exit(ExitCode.OK if report.healthy else ExitCode.PROBLEMS)


Inventory = Annotated[
    Path,
    typer.Argument(
        exists=True,
        metavar="INVENTORY",
        help="Ansible inventory (INI/YAML/folder) or .csv",
        show_default=False,
    ),
]


@app.command(name="audit")
def audit_command(
    inventory: Inventory,
    user: User = None,
    password: Password = None,
    ask_password: AskPassword = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Hosts at once.")] = 16,
    deadline: Annotated[
        float, typer.Option(callback=check_positive, help="Seconds per host.")
    ] = 60.0,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    jea: Annotated[
        bool, typer.Option("--jea", help="Through each host's JEA endpoint 'ddperm'.")
    ] = False,
) -> None:
    """Audit every machine of an inventory; exit 1 if any is not healthy, 130 on Ctrl-C."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="'--csv'")
    secret = password_from(password, ask_password)
    credentials = {"username": user, "password": secret}
    targets = [
        Target.model_validate(
            t.model_dump()
            | {k: v for k, v in credentials.items() if v and getattr(t, k) is None}
            | ({"configuration_name": "ddperm"} if jea else {})
        )
        for t in load_targets(inventory)
    ]
    try:
        report = audit(targets, concurrency=concurrency, deadline=deadline, progress=not quiet)
    except KeyboardInterrupt as exc:
        quiet_second_interrupt()
        partial = getattr(exc, "report", None)
        if isinstance(partial, FleetReport):
            typer.echo("ddperm: interrupted; the hosts that answered so far:", err=True)
            _print_report(partial, as_json=as_json, as_csv=as_csv)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    _print_report(report, as_json=as_json, as_csv=as_csv)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.PROBLEMS)


def _print_report(report: FleetReport, *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        print_json(report)
    elif as_csv:
        sys.stdout.write(_csv(report))
    else:
        console().print(_fleet_table(report))
