"""The ``ddperm`` command line: one module per command, registered on one Typer app."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ddperm",
    help="Docker Desktop's privileged Windows helper: health, VM, hosts file, and the twin.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    from ddperm.cli import commands  # noqa: F401  (registers every command)

    app()


@app.callback()
def _root() -> None:
    """Docker Desktop's privileged Windows helper as a Python library and CLI."""
