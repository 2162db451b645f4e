"""``ddperm group``: who may use the service (install-time administration)."""

from __future__ import annotations

from collections.abc import Callable

import typer

from ddperm.cli import app
from ddperm.cli.output import clean
from ddperm.service import DEFAULT_GROUP, groups

group_app = typer.Typer(
    help="List, add or remove members of the service group.", no_args_is_help=True
)
app.add_typer(group_app, name="group")

GROUP = typer.Option(DEFAULT_GROUP, "--group", "-g", help="The service group.")


def _report(action: Callable[[], groups.GroupMembers]) -> None:
    result = action()
    typer.echo(clean(f"{result.group}: {', '.join(result.members) or '(no members)'}"))


@group_app.command("list")
def list_members(group: str = GROUP) -> None:
    """Show who is in the group."""
    _report(lambda: groups.members(group))


@group_app.command()
def add(user: str, group: str = GROUP) -> None:
    """Add USER to the group (administrators only)."""
    _report(lambda: groups.add_member(user, group))


@group_app.command()
def remove(user: str, group: str = GROUP) -> None:
    """Remove USER from the group (administrators only)."""
    _report(lambda: groups.remove_member(user, group))
