"""Maps a script name to the twin's implementation of it, binding parameters the way
PowerShell binds them (unknown name, missing mandatory, ValidateSet on the VM name).

A handler is ``fn(host, **params) -> JSON-able``: it must return exactly what the
real script writes with ``ConvertTo-Json``. Parameters without a default are
mandatory, like ``[Parameter(Mandatory)]`` in the script.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ddperm.guard import VM_NAME
from ddperm.testing import errors

if TYPE_CHECKING:
    from ddperm.testing.fakehost import FakeHost

Handler = Callable[..., object]
F = TypeVar("F", bound=Handler)
HANDLERS: dict[str, Handler] = {}


def handles(script: str) -> Callable[[F], F]:
    """Register the decorated function as the twin's version of ``script``."""

    def register(fn: F) -> F:
        if script in HANDLERS:
            raise RuntimeError(f"two twin handlers for {script}")
        HANDLERS[script] = fn
        return fn

    return register


def parameters(script: str) -> dict[str, bool]:
    """The parameter names a handler takes, each with whether it is mandatory."""
    sig = inspect.signature(HANDLERS[script])
    return {
        name: p.default is inspect.Parameter.empty for name, p in list(sig.parameters.items())[1:]
    }


def bind(script: str, params: Mapping[str, Any], command: str | None = None) -> dict[str, Any]:
    """The parameters bound to ``script``'s handler, or the ErrorRecord PowerShell's binder
    raises; its ids name ``command`` (the function a JEA caller invoked) or the script."""
    shown = command or script
    handler = HANDLERS.get(script)
    if handler is None:
        raise errors.command_not_found(shown)
    declared = parameters(script)
    lowered = {name.lower(): name for name in declared}
    bound: dict[str, Any] = {}
    for name, value in params.items():
        real = lowered.get(name.lower())  # PowerShell parameter names are case-insensitive
        if real is None:
            raise errors.parameter_not_found(shown, name)
        bound[real] = value
    missing = [name for name, mandatory in declared.items() if mandatory and name not in bound]
    if missing:
        raise errors.missing_mandatory(shown, missing)
    if "VMName" in bound and str(bound["VMName"]).lower() != VM_NAME.lower():
        raise errors.validate_set_failed(shown, "VMName", bound["VMName"], [VM_NAME])
    return bound


def dispatch(host: FakeHost, script: str, params: Mapping[str, Any]) -> object:
    return HANDLERS[script](host, **bind(script, params))
