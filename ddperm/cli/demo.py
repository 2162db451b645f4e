"""``ddperm demo``: a short guided tour of the library against the twin (or a real host)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ddperm.cli import app
from ddperm.components.health import HealthReport
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
    _step("The guard refuses any other VM name", lambda: guard.pin_vm_name("MyOtherVM"))
    _step(
        "The guard refuses a junction-prone device path",
        lambda: guard.check_path(r"\\?\C:\ProgramData\DockerDesktop", what="data folder"),
    )
    _step("Health after", lambda: _health_table(host.health()))


def _demo_twin() -> Host:
    fake = FakeHost()
    fake.hypervisorlaunchtype = "Off"  # one problem for the tour to find and explain
    return twin_host(fake)


@app.command()
def demo() -> None:
    """A short scripted tour against the Windows-host twin."""
    console.print("[bold]ddperm demo[/] against the in-process Windows-host twin")
    with _demo_twin() as host:
        tour(host)
