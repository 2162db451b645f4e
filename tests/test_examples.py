"""examples/prepare_machine.py: a tool built on ddperm, run as users run it and on every backend."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ddperm.components.vm import VMSpec
from ddperm.testing import FakeHost
from tests.backends import Backend

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "prepare_machine.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prepare_machine", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_as_a_script_against_the_twin() -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "hosts entry: written" in run.stdout
    assert "DockerDesktopVM: Running (started)" in run.stdout
    assert "64 GiB virtual" in run.stdout


def test_bad_arguments_are_a_usage_error() -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--cpus", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert "--cpus" in run.stderr


def test_prepare_on_every_backend(make_backend: Callable[..., Backend]) -> None:
    fake = FakeHost()
    backend = make_backend(fake)
    assert _load().prepare(backend.host, VMSpec(cpus=3))
    (vm,) = fake.vms
    assert (vm.state, vm.processor_count) == ("Running", 3)


def test_prepare_refuses_a_machine_without_hyperv(make_backend: Callable[..., Backend]) -> None:
    fake = FakeHost()
    fake.features["Microsoft-Hyper-V"] = "Disabled"
    fake.hypervisor_present = False
    backend = make_backend(fake)
    assert not _load().prepare(backend.host, VMSpec())
    assert fake.vms == []
