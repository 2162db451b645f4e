"""The conformance jobs: every script whose header says ``# ddperm-kind: read``.

The list is read from the script registry each time, never kept by hand, so a new
read-only script is in the kit the day it is added. Mandatory parameters come from
the script's ``param()`` block as the twin declares it (the vetting tests keep the two
equal) and are filled by parameter *name*; a script that needs a value the kit does
not know is kept in the list, skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ddperm.components.checks import DEFAULT_REQUIRED_FEATURES
from ddperm.guard import VM_NAME
from ddperm.runner import ParamValue
from ddperm.scripts import ScriptKind, ScriptRegistry
from ddperm.testing import jobs as _twin_jobs  # noqa: F401  (registers the twin's handlers)
from ddperm.testing.dispatch import HANDLERS, parameters
from ddperm.testing.fakehost import FakeHost

# Every feature the twin models, the ones Docker Desktop needs first: the answer seeds them all.
FEATURES = tuple(dict.fromkeys([*DEFAULT_REQUIRED_FEATURES, *FakeHost().features]))


@dataclass(frozen=True)
class Job:
    """One read-only script with the parameters it runs with, or why it cannot run."""

    script: str
    params: dict[str, ParamValue] = field(default_factory=dict)
    skipped: str | None = None
    modelled: bool = True  # False: the twin has no handler (itself a fidelity gap)


def _values(member: str | None) -> dict[str, ParamValue]:
    """The value the kit passes for each parameter name a read script may declare."""
    values: dict[str, ParamValue] = {
        "VMName": VM_NAME,
        "FeatureName": list(FEATURES),
        "WindowsContainers": True,
    }
    if member is not None:
        values["Member"] = [member]
    return values


def _why_not(name: str) -> str:
    if name == "Member":
        return "no account to ask about: give --member (the current user is not known)"
    return f"the kit knows no value for the mandatory parameter {name}"


def read_jobs(registry: ScriptRegistry, member: str | None = None) -> list[Job]:
    """Every read-only script of ``registry``; ``member`` is the account docker-users is
    asked about (the current user, when known)."""
    values = _values(member)
    found: list[Job] = []
    for name in registry.names():
        if registry.get(name).kind is not ScriptKind.READ:
            continue
        if name not in HANDLERS:
            found.append(Job(name, skipped="the twin does not model this script", modelled=False))
            continue
        mandatory = [p for p, required in parameters(name).items() if required]
        missing = [p for p in mandatory if p not in values]
        if missing:
            found.append(Job(name, skipped=_why_not(missing[0])))
        else:
            found.append(Job(name, {p: values[p] for p in mandatory}))
    return found
