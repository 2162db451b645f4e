"""``ddperm conformance`` end to end: over WinRM against the twin endpoint, and ``--local``
through the stand-in powershell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ddperm.conformance import ConformanceReport
from ddperm.scripts import ScriptRegistry
from ddperm.testing import FakeHost
from ddperm.testing.standin import Agent, write_launcher
from ddperm.testing.winrm import Endpoint, serve
from tests.test_conformance import Diverging, _extra_field

USER, PASSWORD = "conformer", "C0nform-pw"


def ddperm(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    repo = str(Path(__file__).resolve().parent.parent)
    clean |= {"DDPERM_PASSWORD": PASSWORD, "COLUMNS": "200", "PYTHONPATH": repo}
    return subprocess.run(
        [sys.executable, "-m", "ddperm", "conformance", *args],
        capture_output=True,
        text=True,
        env=clean | (env or {}),
        cwd=cwd,
        timeout=180,
        check=False,
    )


def over_winrm(endpoint: Endpoint, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    connection = ["--port", str(endpoint.port), "--http", "--encryption", "never"]
    connection += ["--auth", "basic", "--user", USER]
    return ddperm(endpoint.host, *connection, *args, cwd=cwd)


def test_over_winrm_a_matching_twin_exits_0_and_a_diverging_one_1(tmp_path: Path) -> None:
    with serve(FakeHost(), username=USER, password=PASSWORD) as endpoint:
        clean = over_winrm(endpoint, "--output", "clean.json", cwd=tmp_path)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        report = ConformanceReport.model_validate_json((tmp_path / "clean.json").read_text())
        assert report.ok and report.redacted
        assert report.host.transport == "WinRM"
        reads = sum(
            1 for n in ScriptRegistry().names() if ScriptRegistry().get(n).kind.value == "read"
        )
        assert f"{reads} match" in clean.stdout

        endpoint.fake = Diverging(patches={"version": _extra_field})
        differs = over_winrm(endpoint, cwd=tmp_path)
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert "attach the JSON to a fidelity bug report" in differs.stdout
    assert "version: shape $.os_edition_id: real string, twin missing" in differs.stdout
    (written,) = tmp_path.glob("conformance-remote-*.json")
    text = written.read_text()
    assert PASSWORD not in text and "127.0.0.1" not in text
    found = ConformanceReport.model_validate_json(text).differences
    assert [(d.job, d.path) for d in found] == [("version", "$.os_edition_id")]


def test_local_through_the_standin_powershell(tmp_path: Path) -> None:
    launcher = write_launcher(tmp_path)
    fake = FakeHost()
    fake.hypervisorlaunchtype = "Off"
    with Agent(fake) as agent:
        run = ddperm("--local", str(launcher), "-o", "local.json", cwd=tmp_path, env=agent.env)
    assert run.returncode == 0, run.stdout + run.stderr
    report = ConformanceReport.model_validate_json((tmp_path / "local.json").read_text())
    assert report.host.transport.startswith("local ") and report.host.transport.endswith("shell")
    assert report.ok and [j.job for j in report.jobs if j.status != "match"] == []
    assert {name for name, _ in fake.calls} >= {"version", "bootloader_status", "health"}


def test_a_host_or_local_exactly_and_an_unreachable_host_is_exit_2(tmp_path: Path) -> None:
    assert ddperm(cwd=tmp_path).returncode == 2
    assert ddperm("dev-pc01", "--local", "pwsh", cwd=tmp_path).returncode == 2
    bad_member = ddperm("--local", "pwsh", "--member", "a@b.example", cwd=tmp_path)
    assert bad_member.returncode == 2
    unreachable = ddperm("127.0.0.1", "--port", "1", "--http", "--user", USER, cwd=tmp_path)
    assert unreachable.returncode == 2
    assert "TransportError" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    assert list(tmp_path.glob("*.json")) == []
