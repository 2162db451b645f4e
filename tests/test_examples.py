"""examples/: prepare_machine.py run as users run it and on every backend; the fleet
inventory and CSV the README audits."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

import pytest

from ddperm.components.vm import VMSpec
from ddperm.fleet import FleetReport, audit, load_targets
from ddperm.testing import FakeHost
from ddperm.testing.winrm import serve
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


README = EXAMPLE.parent.parent / "README.md"


def _fleet_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Fleet audits") :].split("\n## ", 1)[0]


def _readme_fleet_files() -> list[Path]:
    names = sorted(set(re.findall(r"ddperm audit (examples/\S+)", _fleet_section())))
    return [EXAMPLE.parent.parent / name for name in names]


def test_readme_fleet_section_audits_the_shipped_inventory_and_csv() -> None:
    files = _readme_fleet_files()
    assert [f.name for f in files] == ["fleet.csv", "inventory.ini"]
    assert all(f.is_file() for f in files)
    csv_targets, ini_targets = (load_targets(f) for f in files)
    assert csv_targets == ini_targets  # the two files list the same machines
    twins = re.findall(r"ddperm twin --port (\d+) --password (\S+)( --fresh)?", _fleet_section())
    assert sorted(int(port) for port, _, _ in twins) == sorted(t.port for t in csv_targets)


def test_readme_fleet_files_run_against_twins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's commands with one change: the twins listen on free ports, and the
    files' ports are rewritten to match (fixed ports could clash between test runs)."""
    section = _fleet_section()
    twins = re.findall(r"ddperm twin --port (\d+) --password (\S+)( --fresh)?", section)
    (password,) = re.findall(r"export DDPERM_PASSWORD=(\S+)", section)
    monkeypatch.setenv("DDPERM_PASSWORD", password)
    with ExitStack() as stack:
        ports = {}
        for port, secret, fresh in twins:
            fake = FakeHost.fresh() if fresh else FakeHost()
            endpoint = stack.enter_context(serve(fake, auth="ntlm", password=secret))
            ports[port] = str(endpoint.port)
        copies = []
        for original in _readme_fleet_files():
            text = original.read_text(encoding="utf-8")
            for readme_port, free_port in ports.items():
                text = text.replace(readme_port, free_port)
            copies.append(tmp_path / original.name)
            copies[-1].write_text(text, encoding="utf-8")
        reports = [audit(load_targets(copy), deadline=30, progress=False) for copy in copies]
        cli = subprocess.run(
            [sys.executable, "-m", "ddperm", "audit", str(copies[-1]), "--json", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONPATH": str(EXAMPLE.parent.parent)},
        )
    for report in [*reports, FleetReport.model_validate_json(cli.stdout)]:
        outcomes = {r.name: r.outcome for r in report.results}
        assert set(outcomes.values()) <= {"healthy", "unhealthy"}, report.summary()
        pc02 = next(r for r in report.results if r.name == "pc02")
        assert "hyperv" in pc02.failing_checks  # the --fresh twin: no Hyper-V yet
    assert cli.returncode == 1  # not every host is healthy
