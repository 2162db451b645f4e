"""``ddperm call ROUTE [KEY=VALUE ...]``: ask the running service to do one job."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ddperm.cli import app
from ddperm.cli.connection import check_positive
from ddperm.cli.exitcodes import ExitCode
from ddperm.service import ROUTES, Client


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that is JSON (``true``, ``4``, ``["a"]``) is sent as such."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


@app.command()
def call(
    route: Annotated[
        str | None, typer.Argument(help="Route name; leave out to list the routes.")
    ] = None,
    params: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE parameters.")] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", "-a", help="Socket path or pipe name.  [default: the service's]"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(callback=check_positive, help="Seconds to wait for the answer.")
    ] = 120.0,
) -> None:
    """Ask the ddperm service to run ROUTE and print its result as JSON.

    Exit codes: 0 done (for health: healthy), 1 health found problems, 2 the service
    refused the request, 3 no service or not allowed, 4 the job failed on the host.
    """
    if route is None:
        for name, known in sorted(ROUTES.items()):
            typer.echo(f"{name:32} {known.summary}")
        return
    with Client(address, timeout=timeout) as client:
        result = client.request(route, parse_params(params or []))
    typer.echo(json.dumps(result, indent=2))
    if route == "health" and result.get("healthy") is not True:
        raise typer.Exit(ExitCode.PROBLEMS)
