"""``ddperm schema``: the JSON Schema of every model a Host call returns."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ddperm.cli import app
from ddperm.schema import RESULT_MODELS, json_schema, returned_by


def _lookup(name: str) -> str:
    """The registered spelling of ``name`` (case does not matter)."""
    for known in RESULT_MODELS:
        if known.lower() == name.lower():
            return known
    raise typer.BadParameter(f"unknown model {name!r}; run 'ddperm schema' for the list")


@app.command()
def schema(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL", help="A result model, e.g. HealthReport.", show_default=False
        ),
    ] = None,
    all_models: Annotated[
        bool, typer.Option("--all", help="Every model's schema in one JSON object, by name.")
    ] = False,
) -> None:
    """Print the JSON Schema of a result model; without MODEL, list the models.

    Each model is what a Host call returns (``ddperm call`` answers with the same JSON).
    """
    if model is not None and all_models:
        raise typer.BadParameter("give a MODEL or --all, not both")
    if all_models:
        typer.echo(json.dumps({name: json_schema(name) for name in RESULT_MODELS}, indent=2))
    elif model is not None:
        typer.echo(json.dumps(json_schema(_lookup(model)), indent=2))
    else:
        width = max(map(len, RESULT_MODELS))
        for name in RESULT_MODELS:
            typer.echo(f"{name:<{width}}  {', '.join(returned_by(name))}")
