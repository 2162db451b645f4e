"""The public API documents itself: help(Host), every model field, every method's contract."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import pydoc
import re
import typing
from types import ModuleType

import pytest
from pydantic import BaseModel

import ddperm
import ddperm.components
from ddperm import errors
from ddperm.components.base import Component
from ddperm.fleet import report

COMPONENTS = (
    "vm",
    "vhd",
    "engine",
    "windows_containers",
    "hyperv",
    "bootloader",
    "features",
    "hosts_file",
    "policy",
    "setup",
)
# Every method that runs a script goes through Executor.call, which can raise each of these.
HOST_CALL_ERRORS = {"PolicyError", "HostError", "TransportError", "AuthenticationError"}
HOST_CALL_ERRORS |= {"OutputError"}
LIFECYCLE = {"close"}  # runs no script: no Returns/Raises contract to state


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(ddperm.components.__path__)]
    return [importlib.import_module(f"ddperm.components.{n}") for n in names] + [report]


def _public(module: ModuleType, base: type) -> list[type]:
    return [
        cls
        for name, cls in vars(module).items()
        if isinstance(cls, type)
        and issubclass(cls, base)
        and cls.__module__ == module.__name__
        and not name.startswith("_")
    ]


MODELS = [cls for module in _modules() for cls in _public(module, BaseModel)]
COMPONENT_CLASSES = [
    cls
    for module in _modules()
    if module.__name__ != "ddperm.components.base"
    for cls in _public(module, Component)
]
METHODS = [
    (cls, name)
    for cls in [ddperm.Host, *COMPONENT_CLASSES]
    for name, member in vars(cls).items()
    if inspect.isfunction(member) and not name.startswith("_") and name not in LIFECYCLE
]


def _section(doc: str, title: str) -> str:
    """The indented body of a Google-style section, or '' when there is none."""
    match = re.search(rf"^{title}:\n((?:[ ]{{4}}.*\n?|\n)+)", doc, re.M)
    return match.group(1) if match else ""


def test_help_lists_every_component_with_a_summary() -> None:
    text = pydoc.render_doc(ddperm.Host, renderer=pydoc.plaintext)
    for name in COMPONENTS:
        summary = inspect.getdoc(getattr(ddperm.Host, name)).splitlines()[0]
        assert re.search(rf"^ \|  {name}\n \|      {re.escape(summary)}$", text, re.M), name


def test_components_are_typed_for_ides() -> None:
    typed = {
        name: typing.get_type_hints(prop.fget)["return"]
        for name, prop in vars(ddperm.Host).items()
        if isinstance(prop, property)
    }
    assert set(typed) == set(COMPONENTS)
    assert all(issubclass(cls, Component) for cls in typed.values())
    assert set(typed.values()) == set(COMPONENT_CLASSES)


def test_the_introspection_finds_what_it_checks() -> None:
    assert len(MODELS) > 30
    assert len(METHODS) > 25
    assert report.FleetReport in MODELS and (ddperm.Host, "health") in METHODS


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_and_field_is_described(model: type[BaseModel]) -> None:
    assert inspect.getdoc(model), f"{model.__name__} has no docstring"
    missing = [name for name, field in model.model_fields.items() if not field.description]
    assert missing == [], f"{model.__name__}: fields without a description: {missing}"


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m[0].__name__}.{m[1]}")
def test_every_method_states_returns_raises_and_args(method: tuple[type, str]) -> None:
    cls, name = method
    function = getattr(cls, name)
    doc = (inspect.getdoc(function) or "") + "\n"
    assert _section(doc, "Returns").strip(), f"{name}: no Returns: section"
    raised = set(re.findall(r"^    (\w+):", _section(doc, "Raises"), re.M))
    assert raised == HOST_CALL_ERRORS, f"{name} raises {sorted(raised)}"
    assert all(issubclass(getattr(errors, e), errors.DdpermError) for e in raised)
    documented = set(re.findall(r"^    (\w+):", _section(doc, "Args"), re.M))
    parameters = set(inspect.signature(function).parameters) - {"self"}
    assert documented == parameters, f"{name}: Args {sorted(documented)} != {sorted(parameters)}"


def test_delete_data_confirm_is_typed() -> None:
    from ddperm.components.windows_containers import WindowsContainersComponent

    hints = typing.get_type_hints(WindowsContainersComponent.delete_data)
    assert hints["confirm"] is bool
