"""``ddperm call ROUTE [KEY=VALUE ...]``: ask the running service to do one job."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ddperm.cli import app
from ddperm.errors import DdpermError, TransportError
from ddperm.service import ROUTES, Client
from ddperm.service.client import ServiceError


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
        str | None, typer.Option("--address", "-a", help="Socket path or pipe name.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 120.0,
) -> None:
    """Ask the ddperm service to run ROUTE and print its result as JSON."""
    if route is None:
        for name, known in sorted(ROUTES.items()):
            typer.echo(f"{name:32} {known.summary}")
        return
    try:
        with Client(address, timeout=timeout) as client:
            result = client.request(route, parse_params(params or []))
    except ServiceError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except TransportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except DdpermError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2))
