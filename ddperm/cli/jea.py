"""``ddperm jea install|status|uninstall HOST``: ddperm's JEA endpoint, managed by an
administrator over plain remoting, so that audits and provisioning need no admin rights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from ddperm.cli import app
from ddperm.cli.connection import connected
from ddperm.fleet.targets import Target
from ddperm.host import Host
from ddperm.jea import endpoint
from ddperm.jea.endpoint import JeaStatus
from ddperm.jea.module import DEFAULT_GROUPS, Role

console = Console(highlight=False)
jea_app = typer.Typer(
    name="jea",
    help="ddperm's JEA endpoint 'ddperm': least privilege over the network.",
    no_args_is_help=True,
)
app.add_typer(jea_app)

T = TypeVar("T")
HostArg = Annotated[str, typer.Argument(help="Host name or address of the Windows machine.")]
Members = Annotated[list[str] | None, typer.Option(help="Account to add to the role's group.")]


def _run(target: Target, action: Callable[[Host], T]) -> T:
    """``action`` on the target's host (failures: one line and their exit code, as anywhere)."""
    with target.connect() as connection:
        return action(connection)


def _show(host: str, found: JeaStatus, as_json: bool) -> None:
    problems = found.problems()
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
    else:
        config = found.configuration
        console.print(f"{host}: module {'installed' if found.installed else 'not installed'}")
        console.print(f"  catalog: {found.catalog}; files: {len(found.files)}")
        if config is not None:
            console.print(
                f"  configuration {config.name!r}: {config.session_type}, {config.language_mode}"
                f", virtual account: {config.run_as_virtual_account}"
            )
            for role in config.role_definitions:
                console.print(f"    {role.principal} -> {', '.join(role.role_capabilities)}")
        for problem in problems:
            console.print(f"  [red]problem[/]: {problem}")
        if not problems:
            console.print("  [green]ok[/]: as this ddperm installs it")
    raise typer.Exit(0 if not problems else 1)


@jea_app.command("install")
@connected
def install_command(
    host: HostArg,
    auditor: Members = None,
    operator: Members = None,
    administrator: Members = None,
    auditors_group: Annotated[str, typer.Option(help="Group of DdpermAuditor.")] = DEFAULT_GROUPS[
        Role.AUDITOR
    ],
    operators_group: Annotated[str, typer.Option(help="Group of DdpermOperator.")] = DEFAULT_GROUPS[
        Role.OPERATOR
    ],
    administrators_group: Annotated[
        str, typer.Option(help="Group of DdpermAdministrator.")
    ] = DEFAULT_GROUPS[Role.ADMINISTRATOR],
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    *,
    target: Target,
) -> None:
    """Install (or reinstall) the endpoint as an administrator; exit 1 unless verified."""
    groups = {
        Role.AUDITOR: auditors_group,
        Role.OPERATOR: operators_group,
        Role.ADMINISTRATOR: administrators_group,
    }
    members = {Role.AUDITOR: auditor, Role.OPERATOR: operator, Role.ADMINISTRATOR: administrator}
    chosen = {role: names or [] for role, names in members.items()}
    _show(host, _run(target, lambda h: endpoint.install(h, groups, chosen)), as_json)


@jea_app.command("status")
@connected
def status_command(
    host: HostArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    *,
    target: Target,
) -> None:
    """Report the endpoint (catalog, ACLs, configuration); exit 1 on any problem."""
    _show(host, _run(target, endpoint.status), as_json)


@jea_app.command("uninstall")
@connected
def uninstall_command(host: HostArg, *, target: Target) -> None:
    """Remove the module and the configuration (role groups and transcripts stay)."""
    _run(target, endpoint.uninstall)
    console.print(f"{host}: JEA endpoint removed (role groups and transcripts kept)")
