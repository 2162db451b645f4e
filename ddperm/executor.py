"""Runs one named script through the guard, the registry, the runner and a model.

Every call is logged under ``ddperm.executor``: each attempt at DEBUG, the call's
outcome at INFO, with the host, transport, script (name and SHA-256 prefix),
parameters (secret-looking names redacted), attempt, duration and outcome, both in
the message and as record attributes (``extra``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar, cast

from pydantic import BaseModel, ValidationError

from ddperm import guard
from ddperm.errors import HostError, OutputError, PolicyError
from ddperm.retry import RetryPolicy
from ddperm.runner import Params, ParamValue, Runner
from ddperm.scripts import Script, ScriptRegistry, default_registry

M = TypeVar("M", bound=BaseModel)
_SCALARS = (str, int, bool, type(None))
_SECRET_NAME = re.compile(r"password|secret|token|credential", re.IGNORECASE)
_LOGGED_TEXT = 120
log = logging.getLogger(__name__)


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


def loggable(params: Params) -> dict[str, object]:
    """Parameters as a log may show them: secret-looking names redacted, long text cut."""
    return {
        key: "<redacted>" if _SECRET_NAME.search(key) else _shortened(value)
        for key, value in params.items()
    }


def _shortened(value: ParamValue) -> object:
    if isinstance(value, str) and len(value) > _LOGGED_TEXT:
        return f"{value[:_LOGGED_TEXT]}... ({len(value)} characters)"
    return value


def outcome_of(exc: BaseException) -> str:
    """How a log names a failure: the type, and a HostError's error id."""
    if isinstance(exc, HostError) and exc.error_id:
        return f"HostError {exc.error_id}"
    return type(exc).__name__


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
        context: dict[str, object] = {
            "host": str(getattr(self.runner, "server", "localhost")),
            "transport": type(self.runner).__name__,
            "script": script.name,
            "script_sha256": script.sha256[:12],
            "params": loggable(checked),
        }
        attempts = {"n": 0}

        def attempt() -> str:
            attempts["n"] += 1
            with _logged(logging.DEBUG, "attempt", context, attempts):
                return self.runner.run(script, checked)

        with _logged(logging.INFO, "call", context, attempts):
            text = self.retry.call(script.kind, attempt, context=context)
            return parse_output(script.name, text, model)


@contextmanager
def _logged(
    level: int, what: str, context: dict[str, object], attempts: dict[str, int]
) -> Iterator[None]:
    """Log the block's outcome and duration (an exception is logged, then re-raised)."""
    began = time.monotonic()
    outcome, detail = "ok", "ok"
    try:
        yield
    except Exception as exc:
        outcome = outcome_of(exc)
        detail = f"{outcome}: {exc}"
        raise
    finally:
        seconds = time.monotonic() - began
        log.log(
            level,
            "%s %s on %s via %s [%s] %s: %s in %.3f s (attempt %d)",
            what,
            context["script"],
            context["host"],
            context["transport"],
            context["script_sha256"],
            context["params"],
            detail,
            seconds,
            attempts["n"],
            extra={**context, "attempt": attempts["n"], "seconds": seconds, "outcome": outcome},
        )


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
