"""fleet.audit on a partly failing fleet of twin WinRM endpoints: every host's failure is
that host's classified outcome, and Ctrl-C stops at once with a partial report."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ddperm.fleet import FleetReport, Target, audit, connect_target
from ddperm.host import Host
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, Fault, serve

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy() -> FakeHost:
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    fake.calls.clear()
    return fake


def _target(name: str, endpoint: Endpoint, **changes: Any) -> Target:
    return Target(name=name, **(endpoint.connect_options() | changes))


@pytest.fixture(scope="module")
def twins() -> Iterator[dict[str, Endpoint]]:
    with ExitStack() as stack:
        yield {
            "pc1": stack.enter_context(serve(_healthy(), password="pw-one")),
            "pc2": stack.enter_context(serve(FakeHost(), password="pw-two")),
            "ntlm": stack.enter_context(serve(_healthy(), auth="ntlm", password="pw-ntlm")),
        }


def _explodes(target: Target, deadline: float) -> Host:
    """A connector with a bug for one host (an exception ddperm does not know)."""
    if target.name == "buggy":
        raise RuntimeError("connector bug")
    return connect_target(target, deadline)


@pytest.fixture(scope="module")
def mixed(twins: dict[str, Endpoint]) -> list[Target]:
    # "nobody-here" is in no twin's NTLM user file, whichever one pyspnego happens to read
    return [
        _target("pc1", twins["pc1"]),
        _target("no-password", twins["ntlm"], username="nobody-here", password=None),
        _target("pc2", twins["pc2"]),
        Target(name="gone", server="127.0.0.1", port=_free_port(), ssl=False),
        _target("bad-ca", twins["pc1"], ssl=True, cert_validation="/no/such/ca.pem"),
        _target("buggy", twins["pc1"]),
        _target("pc1-again", twins["pc1"]),
    ]


def _audit(targets: list[Target]) -> FleetReport:
    with pytest.MonkeyPatch.context() as env:
        env.delenv("DDPERM_USERNAME", raising=False)
        env.delenv("DDPERM_PASSWORD", raising=False)
        return audit(targets, concurrency=4, deadline=20, progress=False, connector=_explodes)


@pytest.fixture(scope="module")
def report(mixed: list[Target]) -> FleetReport:
    return _audit(mixed)


def test_every_failure_is_its_hosts_outcome_and_healthy_hosts_are_all_there(
    report: FleetReport,
) -> None:
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {
        "pc1": "healthy",
        "no-password": "auth_failed",
        "pc2": "unhealthy",
        "gone": "unreachable",
        "bad-ca": "config_error",
        "buggy": "internal_error",
        "pc1-again": "healthy",
    }
    by_name = {r.name: r for r in report.results}
    assert all(by_name[n].report is not None for n in ("pc1", "pc2", "pc1-again"))
    assert "no password for user 'nobody-here'" in str(by_name["no-password"].error)
    assert "refused the connection" in str(by_name["gone"].error)
    assert "cert_validation names a file that does not exist" in str(by_name["bad-ca"].error)
    assert by_name["buggy"].error == "RuntimeError: connector bug"


def test_the_classification_is_stable(report: FleetReport, mixed: list[Target]) -> None:
    again = _audit(mixed)
    assert [(r.name, r.outcome, r.error) for r in again.results] == [
        (r.name, r.outcome, r.error) for r in report.results
    ]


def test_the_report_round_trips_with_the_new_outcomes(report: FleetReport) -> None:
    assert FleetReport.model_validate_json(report.to_json()) == report
    rows = {row["host"]: row for row in report.rows()}
    assert rows["bad-ca"]["outcome"] == "config_error"
    assert "pw-one" not in report.to_json()
    assert "internal_error" in report._repr_html_()


def test_an_unexpected_exception_is_logged_with_its_traceback(
    twins: dict[str, Endpoint], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ddperm.fleet")
    result = audit([_target("buggy", twins["pc1"])], progress=False, connector=_explodes)
    assert result.results[0].outcome == "internal_error"
    (record,) = [r for r in caplog.records if r.name == "ddperm.fleet.audit"]
    assert record.levelno == logging.DEBUG and record.exc_info is not None
    assert "buggy" in record.getMessage()


INTERRUPTED = """
import json, os, sys, threading, time
from ddperm.fleet import FleetInterrupted, Target, audit

options = json.loads(os.environ["AUDIT_OPTIONS"])
targets = [Target(name=name, **connect) for name, connect in options["targets"]]
began = time.monotonic()
try:
    audit(targets, concurrency=1, deadline=options["deadline"], progress=False)
except FleetInterrupted as exc:
    workers = [t.daemon for t in threading.enumerate() if t.name == "ddperm-audit"]
    report = exc.report.model_dump(mode="json")
    took = time.monotonic() - began
    print(json.dumps({"took": took, "daemon": all(workers), "report": report}), flush=True)
    sys.exit(130)
"""


def test_ctrl_c_returns_at_once_with_done_and_interrupted_hosts(
    twins: dict[str, Endpoint],
) -> None:
    """A real SIGINT to a child interpreter once the slow host is stuck in its stall (in a
    child, so that no Ctrl-C can reach this test run itself)."""
    deadline = 300.0
    with serve(_healthy(), password="pw-slow") as slow:
        slow.faults.inject(Fault.STALL, seconds=deadline, times=100)
        hosts = [("pc1", twins["pc1"]), ("pc2", twins["pc2"]), ("slow", slow)]
        hosts.append(("never-started", twins["pc1"]))
        options = {"targets": [(n, ep.connect_options()) for n, ep in hosts], "deadline": deadline}
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(INTERRUPTED)],
            cwd=ROOT,
            env={
                "PYTHONPATH": str(ROOT),
                "PATH": "/usr/bin:/bin",
                "AUDIT_OPTIONS": json.dumps(options),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12000):  # the audit reaches the slow host (up to two minutes)
            if slow.faults.injected or child.poll() is not None:
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    answer = json.loads(out)
    report = FleetReport.model_validate(answer["report"])
    assert [(r.name, r.outcome) for r in report.results] == [
        ("pc1", "healthy"),
        ("pc2", "unhealthy"),
        ("slow", "interrupted"),
        ("never-started", "interrupted"),
    ]
    assert report.results[0].report is not None
    assert answer["took"] < deadline  # the stalled host was not waited for
    assert answer["daemon"]


EXITING = """
import _thread, socket, sys, threading
from ddperm.fleet import FleetInterrupted, audit

silent = socket.create_server(("127.0.0.1", 0))  # takes the request, never answers

def hold_then_interrupt():
    connection, _ = silent.accept()  # the audit's request is in flight now
    _thread.interrupt_main()
    threading.Event().wait()  # keeps the connection open: the audit's thread stays stuck

threading.Thread(target=hold_then_interrupt, daemon=True).start()
port = silent.getsockname()[1]
target = {"server": "127.0.0.1", "port": port, "ssl": False, "auth": "basic",
          "username": "u", "password": "p", "encryption": "never"}
try:
    audit([target], deadline=600, progress=False)
except FleetInterrupted as exc:
    print(exc.report.results[0].outcome)
    sys.exit(130)
"""


def test_the_interpreter_exits_while_a_host_is_still_stuck() -> None:
    """No thread of the audit may hold up the exit after Ctrl-C (its read waits 600 s)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EXITING)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (130, "interrupted"), done.stderr
    assert "Traceback" not in done.stderr


def test_dask_batches_keep_the_outcomes(twins: dict[str, Endpoint]) -> None:
    """audit_batch (what a dask worker runs) classifies like the local pool."""
    from ddperm.fleet.audit import audit_batch

    results = audit_batch(
        [_target("pc1", twins["pc1"]), _target("buggy", twins["pc1"])], 2, 20, _explodes
    )
    assert sorted(r.outcome for r in results) == ["healthy", "internal_error"]
