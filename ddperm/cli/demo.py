"""``ddperm demo``: a short guided tour of the library against the twin (or a real host)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from pydantic import BaseModel
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
    target_from,
)
from ddperm.components.health import HealthReport
from ddperm.components.vm import VMSpec
from ddperm.errors import DdpermError
from ddperm.host import Host
from ddperm.testing import FakeHost, twin_host

console = Console(highlight=False)
_HEX = frozenset("0123456789abcdef")


def _health_table(report: HealthReport) -> Table:
    table = Table(title="host.health()  (one round trip)", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("problem → fix")
    colours = {"ok": "green", "problem": "yellow", "error": "red", "disabled": "dim"}
    for name, check in report.checks.items():
        fixes = "\n".join(f"{p.message} → {p.fix}" for p in check.problems) or "-"
        table.add_row(name, f"[{colours[check.status]}]{check.status}[/]", fixes)
    return table


def _step(title: str, action: Callable[[], object]) -> None:
    console.print(f"\n[bold]{title}[/]")
    try:
        result = action()
    except DdpermError as exc:
        console.print(f"  [red]{type(exc).__name__}[/]: {exc}")
        return
    if isinstance(result, Table):
        console.print(result)
    elif isinstance(result, BaseModel):
        for key, value in _flatten(result.model_dump(mode="json")):
            console.print(f"  {key:<28} {value}")


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    """Model fields as (dotted key, value) lines; 64-hex hashes shortened."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str) and len(value) == 64 and all(c in _HEX for c in value):
            yield f"{prefix}{key}", value[:12] + "…"
        else:
            yield f"{prefix}{key}", value


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
def demo(
    host: Annotated[
        str | None, typer.Option("--host", help="A real Windows machine (default: the twin).")
    ] = None,
    port: Port = None,
    https: Https = True,
    auth: AuthOpt = "negotiate",
    user: User = None,
    password: Password = None,
    ask_password: AskPassword = False,
    ca_cert: CACert = None,
    insecure: Insecure = False,
    encryption: Encryption = "auto",
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before changing it.")
    ] = False,
) -> None:
    """A short scripted tour: health, the hosts entry, the VM, the guard.

    Without --host it runs against the in-process Windows-host twin. With --host it
    changes that machine for real (hosts entry, DockerDesktopVM), so it asks first.
    """
    if host is None:
        console.print("[bold]ddperm demo[/] against the in-process Windows-host twin")
        with _demo_twin() as twin:
            tour(twin)
        return
    if not yes:
        typer.confirm(f"This creates and starts DockerDesktopVM on {host}. Continue?", abort=True)
    target = target_from(host, locals())
    console.print(f"[bold]ddperm demo[/] against {host} over WinRM")
    with target.connect() as real:
        tour(real)
