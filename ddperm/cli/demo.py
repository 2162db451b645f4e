"""``ddperm demo``: a short guided tour of the library against the twin (or a real host)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from ddperm.cli import app
from ddperm.cli.connection import check_host, connected
from ddperm.cli.output import cell, clean, console, flatten
from ddperm.components.health import HealthReport, Problem
from ddperm.components.vm import VMSpec
from ddperm.errors import DdpermError
from ddperm.fleet import Target
from ddperm.host import Host
from ddperm.testing import FakeHost, twin_host

_STATUS_STYLE = {"ok": "green", "problem": "yellow", "error": "red", "disabled": "dim"}


def _health_table(report: HealthReport) -> Table:
    table = Table(title="host.health()  (one round trip)", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("problem → fix")
    for name, check in report.checks.items():
        fixes = "\n".join(_fix(p) for p in check.problems) or "-"
        table.add_row(name, Text(check.status, style=_STATUS_STYLE[check.status]), cell(fixes))
    return table


def _fix(problem: Problem) -> str:
    """The message, the fix, and the library call that does it (this is a library tour)."""
    call = f" ({problem.python})" if problem.python else ""
    return f"{problem.message} → {problem.fix}{call}"


def _step(title: str, action: Callable[[], object]) -> None:
    out = console()
    out.print(f"\n[bold]{title}[/]")
    try:
        result = action()
    except DdpermError as exc:
        out.print(Text.assemble("  ", (type(exc).__name__, "red"), f": {clean(exc)}"))
        return
    if isinstance(result, Table):
        out.print(result)
    elif isinstance(result, BaseModel):
        for key, value in flatten(result.model_dump(mode="json")):
            out.print(cell(f"  {key:<28} {value}"))


def tour(host: Host) -> None:
    """The scripted tour: health, version, the hosts entry, the guard refusing."""
    from ddperm import guard

    _step("Version", host.version)
    _step("Health before", lambda: _health_table(host.health()))
    _step("Hosts entry: status", host.hosts_file.status)
    _step("Hosts entry: ensure", host.hosts_file.ensure)
    _step("Hosts entry: ensure again (changes no byte)", host.hosts_file.ensure)
    _step("VM: create DockerDesktopVM (2 CPUs, 2 GiB, 64 GiB disk)", _create_vm(host))
    _step("VM: start", host.vm.start)
    _step("VM: start again (already running: nothing changes)", host.vm.start)
    _step("VHDX size", host.vhd.size)
    _step("VM: stop (graceful shutdown)", host.vm.stop)
    _step("The guard refuses any other VM name", lambda: guard.pin_vm_name("MyOtherVM"))
    _step(
        "The guard refuses a junction-prone device path",
        lambda: guard.check_path(r"\\?\C:\ProgramData\DockerDesktop", what="data folder"),
    )
    _step("Health after", lambda: _health_table(host.health()))


def _create_vm(host: Host) -> Callable[[], object]:
    def create() -> object:
        existing = host.vm.info()
        return existing if existing is not None else host.vm.create(VMSpec())

    return create


def _demo_twin() -> Host:
    fake = FakeHost()
    fake.hypervisorlaunchtype = "Off"  # one problem for the tour to find and explain
    return twin_host(fake)


@app.command()
@connected
def demo(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            callback=lambda value: value if value is None else check_host(value),
            help="A real Windows machine.  [default: the in-process twin]",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before changing it.")
    ] = False,
    *,
    target: Target | None,
) -> None:
    """A short scripted tour: health, the hosts entry, the VM, the guard.

    Without --host it runs against the in-process Windows-host twin. With --host it
    changes that machine for real (hosts entry, DockerDesktopVM), so it asks first.
    """
    out = console()
    if target is None:
        out.print("[bold]ddperm demo[/] against the in-process Windows-host twin")
        with _demo_twin() as twin:
            tour(twin)
        return
    if not yes:
        typer.confirm(f"This creates and starts DockerDesktopVM on {host}. Continue?", abort=True)
    out.print(Text.assemble(("ddperm demo", "bold"), f" against {clean(host)} over WinRM"))
    with target.connect() as real:
        tour(real)
