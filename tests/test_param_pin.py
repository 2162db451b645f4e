"""The Python VM-name pin holds against objects and spellings built to slip past it.

Issue 11, finding 7: ``pin_vm_name()`` returned the caller's object, so a ``str`` subclass
whose ``__eq__``/``__ne__`` lie passed; and the executor checked only the key spelled
``VMName``, while PowerShell binds ``vmname`` to the same parameter. The host-side
``[ValidateSet]`` still held; these tests hold the Python side on its own, with a runner
that records what would have been sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ddperm import guard
from ddperm.errors import PolicyError
from ddperm.executor import Executor, checked_params
from ddperm.scripts import Script, declared_parameters, default_registry
from tests.vetting import parse_parameters


class Liar(str):
    """Equal to everything, unequal to nothing."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def run(self, script: Script, params: dict[str, Any]) -> str:
        self.sent.append((script.name, dict(params)))
        return "{}"

    def close(self) -> None:
        pass


def test_a_lying_str_subclass_is_refused() -> None:
    with pytest.raises(PolicyError):
        guard.pin_vm_name(Liar("SomeOtherVM"))


def test_the_pin_returns_a_plain_str_never_the_callers_object() -> None:
    pinned = guard.pin_vm_name(Liar("DockerDesktopVM"))
    assert type(pinned) is str
    assert pinned == "DockerDesktopVM"


@pytest.mark.parametrize("key", ["vmname", "VMNAME", "vmName", "VmName"])
def test_any_spelling_of_the_vm_name_parameter_is_pinned(key: str) -> None:
    runner = Recorder()
    with pytest.raises(PolicyError):
        Executor(runner).call("vm_start", Anything, {key: "SomeOtherVM"})
    assert runner.sent == []


def test_a_correct_name_is_sent_in_the_declared_spelling_as_plain_str() -> None:
    runner = Recorder()
    Executor(runner).call("vm_start", Anything, {"vmname": Liar("DockerDesktopVM")})
    [(_, sent)] = runner.sent
    assert list(sent) == ["VMName"]
    assert type(sent["VMName"]) is str


@pytest.mark.parametrize(
    "params",
    [
        {"VMName": "DockerDesktopVM", "Name": "other"},  # not declared by vm_start
        {"VMName": "DockerDesktopVM", "vmname": "DockerDesktopVM"},  # bound twice
        {"VMName": 7},
        {"VMName": ["DockerDesktopVM"]},
    ],
)
def test_undeclared_duplicate_or_odd_parameters_are_refused(params: dict[str, Any]) -> None:
    runner = Recorder()
    with pytest.raises(PolicyError):
        Executor(runner).call("vm_start", Anything, params)
    assert runner.sent == []


def test_string_values_of_other_parameters_are_copied_to_plain_str() -> None:
    script = default_registry().get("vhd_move")
    [name] = [p for p in script.parameters if p.lower() != "vmname"][:1]
    checked = checked_params(script, {name: Liar(r"D:\Docker")})
    assert type(checked[name]) is str


def test_the_runtime_parameter_scan_agrees_with_tree_sitter_on_every_script() -> None:
    registry = default_registry()
    for name in registry.names():
        text = registry.get(name).text
        assert declared_parameters(text) == set(parse_parameters(text)), name


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[CmdletBinding()]\nparam(\n  [string]$A = '$B',\n  [int]$C = 1\n)", {"A", "C"}),
        ("param([ValidateScript({ $_ -gt 0 })][int]$Count, [switch]$Force)", {"Count", "Force"}),
        ('param(\n  # $NotAParameter\n  [string]$X = "a`"$y"\n)', {"X"}),
        ("$NoParamBlock = 1", set()),
    ],
)
def test_the_scan_skips_defaults_attributes_comments_and_strings(
    text: str, names: set[str]
) -> None:
    assert declared_parameters(text) == names
