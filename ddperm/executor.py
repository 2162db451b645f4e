"""Runs one named script through the guard, the registry, the runner and a model."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ddperm import guard
from ddperm.errors import OutputError, PolicyError
from ddperm.retry import RetryPolicy
from ddperm.runner import Params, Runner
from ddperm.scripts import ScriptRegistry, default_registry

M = TypeVar("M", bound=BaseModel)
_SCALARS = (str, int, bool, type(None))


def _check_params(params: Params) -> None:
    """Parameters are plain data; the VM name, wherever it appears, is the pinned one."""
    for key, value in params.items():
        if not key.isidentifier():
            raise PolicyError(f"not a parameter name: {key!r}")
        items = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, _SCALARS) for v in items):
            raise PolicyError(f"parameter {key} must be plain data, not {type(value).__name__}")
        if key == "VMName":
            guard.pin_vm_name(value)


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
        params = dict(params or {})
        _check_params(params)
        script = self.registry.get(name)
        text = self.retry.call(script.kind, lambda: self.runner.run(script, params))
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
