"""Runs one named script through the guard, the registry, the runner and a model."""

from __future__ import annotations

import json
from typing import TypeVar, cast

from pydantic import BaseModel, ValidationError

from ddperm import guard
from ddperm.errors import OutputError, PolicyError
from ddperm.retry import RetryPolicy
from ddperm.runner import Params, ParamValue, Runner
from ddperm.scripts import Script, ScriptRegistry, default_registry

M = TypeVar("M", bound=BaseModel)
_SCALARS = (str, int, bool, type(None))


def checked_params(script: Script, params: Params) -> Params:
    """The parameters as the script declares them, as plain data, with the VM name pinned.

    PowerShell binds parameter names case-insensitively, so each key is matched that way
    to a name the script declares (anything else is refused), and sent in its declared
    spelling. Strings are copied to plain ``str``: a subclass cannot carry its own methods.
    """
    declared = {name.lower(): name for name in script.parameters}
    checked: dict[str, ParamValue] = {}
    for key, value in params.items():
        name = declared.get(key.lower()) if isinstance(key, str) else None
        if name is None:
            raise PolicyError(f"{script.name} has no parameter {key!r}")
        if name in checked:
            raise PolicyError(f"parameter {name} is given twice")
        if name.lower() == "vmname":
            checked[name] = guard.pin_vm_name(value)  # one plain str, never a list
        elif isinstance(value, (list, tuple)):
            checked[name] = cast(ParamValue, [_plain(name, item) for item in value])
        else:
            checked[name] = _plain(name, value)
    return checked


def _plain(name: str, value: object) -> str | int | bool | None:
    if not isinstance(value, _SCALARS):
        raise PolicyError(f"parameter {name} must be plain data, not {type(value).__name__}")
    return str.__str__(value) if isinstance(value, str) else value


class Executor:
    """The single path from a component to a host: guard, pin, run, retry, validate."""

    def __init__(
        self,
        runner: Runner,
        *,
        registry: ScriptRegistry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.runner = runner
        self.registry = registry if registry is not None else default_registry()
        self.retry = retry if retry is not None else RetryPolicy()

    def call(self, name: str, model: type[M], params: Params | None = None) -> M:
        """Run script ``name`` with ``params`` and parse its answer as ``model``."""
        script = self.registry.get(name)
        checked = checked_params(script, params or {})
        text = self.retry.call(script.kind, lambda: self.runner.run(script, checked))
        return parse_output(script.name, text, model)


def parse_output(script: str, text: str, model: type[M]) -> M:
    """Parse the one JSON document a script wrote as ``model``; anything else is OutputError."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise OutputError(f"{script}: output is not one JSON document: {text[:200]!r}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise OutputError(f"{script}: output does not match {model.__name__}: {exc}") from exc
