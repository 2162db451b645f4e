"""``ddperm serve`` and ``ddperm call`` as a user runs them (separate processes, real socket)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ddperm.service.config import ADDRESS_ENV
from ddperm.testing import twin_host
from tests.test_service_helpers import own_group


def ddperm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ddperm", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``ddperm serve`` in the background; (socket path, its startup line, audit log)."""
    path = str(tmp_path / "run" / "ddperm.sock")
    audit = tmp_path / "audit.jsonl"
    command = ["serve", "-a", path, "--group", own_group(), "--audit-log", str(audit)]
    process = subprocess.Popen(
        [sys.executable, "-m", "ddperm", *command],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    startup = process.stderr.readline()  # printed once the socket is listening
    try:
        yield path, startup, audit
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not os.path.exists(path)


def test_serve_says_it_runs_the_twin(served: tuple[str, str, Path]) -> None:
    path, startup, _ = served
    assert path in startup
    assert "twin" in startup


def test_call_health_prints_what_the_library_reports(served: tuple[str, str, Path]) -> None:
    path, _, audit = served
    done = ddperm("call", "health", "-a", path)
    expected = twin_host().health()
    assert not expected.healthy  # the served twin has no hosts entry yet
    assert done.returncode == 1, done.stderr  # problems found
    assert json.loads(done.stdout) == expected.model_dump(mode="json")
    assert json.loads(audit.read_text().splitlines()[-1])["route"] == "health"


def test_call_finds_the_service_through_the_environment(served: tuple[str, str, Path]) -> None:
    path, _, _ = served
    done = ddperm("call", "version", env={**os.environ, ADDRESS_ENV: path})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["host"]["os_caption"]


def test_call_passes_typed_parameters(served: tuple[str, str, Path]) -> None:
    path, _, _ = served
    done = ddperm("call", "features.check", 'required=["Containers"]', "-a", path)
    assert done.returncode == 0, done.stderr
    assert [f["name"] for f in json.loads(done.stdout)["features"]] == ["Containers"]


def test_call_reports_a_refusal_and_fails(served: tuple[str, str, Path]) -> None:
    path, _, _ = served
    done = ddperm("call", "vm.create", r"data_folder=C:\Windows\System32", "-a", path)
    assert done.returncode == 2  # the service refused the request
    assert "bad_request" in done.stderr
    assert "data_folder" in done.stderr


def test_call_without_a_service_fails_cleanly(tmp_path: Path) -> None:
    done = ddperm("call", "health", "-a", str(tmp_path / "nothing.sock"))
    assert done.returncode == 3
    assert "cannot connect" in done.stderr


def test_call_lists_the_routes() -> None:
    done = ddperm("call")
    assert done.returncode == 0
    assert {line.split()[0] for line in done.stdout.splitlines()} >= {"health", "vhd.move"}


def test_serve_refuses_to_start_without_its_group(tmp_path: Path) -> None:
    audit = str(tmp_path / "audit.jsonl")
    done = ddperm(
        "serve", "-a", str(tmp_path / "s.sock"), "--group", "no-such-group", "--audit-log", audit
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_the_address_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddperm.service.config import SYSTEM_SOCKET, default_address

    monkeypatch.setenv(ADDRESS_ENV, "/srv/ddperm.sock")
    assert default_address() == "/srv/ddperm.sock"
    monkeypatch.delenv(ADDRESS_ENV)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    expected = SYSTEM_SOCKET if os.geteuid() == 0 else "/run/user/1000/ddperm/ddperm.sock"
    assert default_address() == expected
