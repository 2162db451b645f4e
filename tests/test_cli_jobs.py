"""The job commands (``ddperm vm|hosts|engine|policy|vhd``) against the twin over WinRM.

Each runs the real CLI in-process against a twin machine served on loopback, then
looks at the machine's state to see that the job happened (or, refused, did not).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ddperm.cli import app, commands  # noqa: F401  (commands registers every command)
from ddperm.cli.exitcodes import ExitCode
from ddperm.components.vm import VMSpec
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, serve
from tests.cli_helpers import no_ddperm_environment  # noqa: F401

USER, PASSWORD = "jobs-admin", "J0bs-pw-123"


@pytest.fixture
def fake() -> FakeHost:
    return FakeHost()


@pytest.fixture
def endpoint(fake: FakeHost) -> Iterator[Endpoint]:
    with serve(fake, username=USER, password=PASSWORD) as ep:
        yield ep


def job(endpoint: Endpoint, *words: str, json_out: bool = False) -> Result:
    """``ddperm WORDS[0] WORDS[1] HOST --connection... WORDS[2:]``."""
    options = [endpoint.host, "--port", str(endpoint.port), "--http", "--auth", "basic"]
    options += ["--user", USER, "--encryption", "never"]
    args = [*words[:2], *options, *words[2:], *(["--json"] if json_out else [])]
    return CliRunner().invoke(app, args, env={"DDPERM_PASSWORD": PASSWORD})


def test_health_shows_the_command_that_fixes_each_problem(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    before = job(endpoint, "health")
    assert before.exit_code == ExitCode.PROBLEMS
    assert "[HOSTS_ENTRY_MISSING]" in before.stdout
    command = next(
        line.strip(" │") for line in before.stdout.splitlines() if "ddperm hosts ensure" in line
    )
    assert command == (
        f"ddperm hosts ensure {endpoint.host} --port {endpoint.port} --http --auth basic "
        f"--user {USER} --encryption never"
    )
    assert "host.hosts_file" not in before.stdout  # the Python call is for the library
    ran = CliRunner().invoke(app, shlex.split(command)[1:], env={"DDPERM_PASSWORD": PASSWORD})
    assert ran.exit_code == ExitCode.OK, ran.stderr
    assert "changed" in ran.stdout
    after = job(endpoint, "health", json_out=True)
    assert after.exit_code == ExitCode.OK
    assert json.loads(after.stdout)["healthy"] is True


def test_hosts_status_and_ensure(endpoint: Endpoint) -> None:
    status = json.loads(job(endpoint, "hosts", "status", json_out=True).stdout)
    assert status["in_sync"] is False
    first = json.loads(job(endpoint, "hosts", "ensure", json_out=True).stdout)
    second = json.loads(job(endpoint, "hosts", "ensure", json_out=True).stdout)
    assert (first["changed"], second["changed"]) == (True, False)
    assert json.loads(job(endpoint, "hosts", "status", json_out=True).stdout)["in_sync"] is True


def test_vm_start_stop_and_the_disk(endpoint: Endpoint, fake: FakeHost) -> None:
    assert json.loads(job(endpoint, "vm", "info", json_out=True).stdout) == {"vm": None}
    twin_host(fake).vm.create(VMSpec())
    table = job(endpoint, "vm", "info")
    assert table.exit_code == 0
    assert "DockerDesktopVM" in table.stdout

    started = job(endpoint, "vm", "start", json_out=True)
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["changed"] is True
    assert fake.vms[0].state == "Running"

    disk = fake.vms[0].vhd_path
    refused = job(endpoint, "vhd", "move", r"C:\Docker\disks")  # the VM must be off
    assert refused.exit_code == ExitCode.HOST_FAILED
    assert refused.stderr.startswith("ddperm: error: the host reported an error")
    assert "(DdpermVMNotOff)" in refused.stderr
    assert fake.vms[0].vhd_path == disk

    stopped = job(endpoint, "vm", "stop", "--force", json_out=True)
    assert json.loads(stopped.stdout)["changed"] is True
    assert fake.vms[0].state == "Off"

    size = json.loads(job(endpoint, "vhd", "size", json_out=True).stdout)
    assert size["path"] == disk
    moved = job(endpoint, "vhd", "move", r"C:\Docker\disks", json_out=True)
    assert moved.exit_code == 0, moved.stderr
    assert json.loads(moved.stdout)["destination"] == fake.vms[0].vhd_path
    assert fake.vms[0].vhd_path.startswith("C:\\Docker\\disks\\")


def test_the_guard_refuses_a_destination_before_anything_is_sent(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    refused = job(endpoint, "vhd", "move", r"C:\Windows\System32")
    assert refused.exit_code == ExitCode.USAGE
    assert refused.stderr.startswith("ddperm: error: refused: destination")
    assert fake.calls == []


def test_engine_start_and_stop(endpoint: Endpoint, fake: FakeHost) -> None:
    assert json.loads(job(endpoint, "engine", "status", json_out=True).stdout)["status"] == (
        "Stopped"
    )
    started = job(endpoint, "engine", "start", "--timeout", "30", json_out=True)
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["after"]["status"] == "Running"
    assert fake.services["docker"].status == "Running"
    stopped = job(endpoint, "engine", "stop", json_out=True)
    assert json.loads(stopped.stdout)["changed"] is True
    assert fake.services["docker"].status == "Stopped"


def test_a_disabled_engine_cannot_start_exit_4(endpoint: Endpoint, fake: FakeHost) -> None:
    fake.services["docker"].start_type = "Disabled"
    failed = job(endpoint, "engine", "start")
    assert failed.exit_code == ExitCode.HOST_FAILED
    assert "CouldNotStartService" in failed.stderr
    assert fake.services["docker"].status == "Stopped"


def test_policy_cache_from_a_file_then_read_it_back(endpoint: Endpoint, tmp_path: Path) -> None:
    assert json.loads(job(endpoint, "policy", "status", json_out=True).stdout)["cached"] is False
    unreadable = job(endpoint, "policy", "read")
    assert unreadable.exit_code == ExitCode.HOST_FAILED  # fails closed: nothing cached
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "organization": "myorg",
                "allowed_registries": ["docker.io", "ghcr.io"],
                "fetched_at": "2026-11-23T09:30:00Z",
            }
        )
    )
    cached = job(endpoint, "policy", "cache", "--file", str(policy))
    assert cached.exit_code == 0, cached.stderr
    read = json.loads(job(endpoint, "policy", "read", json_out=True).stdout)
    assert read["organization"] == "myorg"
    assert read["allowed_registries"] == ["docker.io", "ghcr.io"]
