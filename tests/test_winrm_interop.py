"""Interop matrix: other WinRM clients against the twin endpoint, each case bounded.

Clients: pypsrp 0.9 (RunspacePool + PowerShell as ddperm uses it, Client.execute_ps,
WinRS/Process, the pool calls and stop), psrp 1.0 (pypsrp 1.0.0b1, sync and async, from
its own venv built by ``make psrp1``; see tests/psrp1_client.py) and pywinrm (run_ps,
run_cmd). Transports: Basic over http (AllowUnencrypted on), NTLM over http with
message encryption (AllowUnencrypted off, as on a fresh host) and Basic over HTTPS.

Every case either works or ends with a clear WS-Man answer; none may hang (a hard
timeout per case) or spin (HTTP requests are counted at the twin), and an idle pool
costs at most one Receive per OperationTimeout, as on Windows.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import winrm
from pypsrp.client import Client
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from ddperm.scripts import default_registry
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, Fault, serve
from ddperm.testing.winrm.config import WinRMConfig
from ddperm.testing.winrm.winrs import NOT_SUPPORTED

ROOT = Path(__file__).resolve().parent.parent
PSRP1_PYTHON = ROOT / ".venv-psrp1" / "bin" / "python"
HARD_TIMEOUT = 45.0
"""Seconds any one case may take before it counts as hung."""
MAX_REQUESTS = 80
"""HTTP requests any one working case may cost (a spinning client makes thousands)."""
OPERATION_TIMEOUT = 1
IDLE_SECONDS = 4
NOT_IN_CATALOG = 2150858811


@dataclass(frozen=True)
class Transport:
    auth: str
    tls: bool

    @property
    def name(self) -> str:
        return f"{self.auth}/{'https' if self.tls else 'http'}"


TRANSPORTS = (Transport("basic", False), Transport("ntlm", False), Transport("basic", True))


@pytest.fixture(scope="module", params=TRANSPORTS, ids=lambda t: t.name)
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    transport: Transport = request.param
    config = WinRMConfig(allow_unencrypted=transport.auth == "basic" and not transport.tls)
    with serve(FakeHost(), auth=transport.auth, tls=transport.tls, config=config) as served:
        yield served


@pytest.fixture(autouse=True)
def _fresh(endpoint: Endpoint) -> None:
    endpoint.fake = FakeHost()
    endpoint.faults.clear()


def _version_script() -> str:
    return default_registry().get("version").text


def _bounded(endpoint: Endpoint, case: Callable[[], Any]) -> Any:
    """Run ``case`` on a thread with a hard timeout; check it did not spin."""
    before = endpoint.http_requests
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = case()
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="interop-case", daemon=True)
    worker.start()
    worker.join(HARD_TIMEOUT)
    assert not worker.is_alive(), f"the client hung (> {HARD_TIMEOUT} s)"
    assert endpoint.http_requests - before <= MAX_REQUESTS, "the client spun"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- pypsrp 0.9 ----------------------------------------------------------------------


def _wsman(endpoint: Endpoint) -> WSMan:
    options = endpoint.connect_options()
    return WSMan(
        options.pop("server"), operation_timeout=OPERATION_TIMEOUT + 1, read_timeout=10, **options
    )


def test_pypsrp_runspace_pool_and_powershell(endpoint: Endpoint) -> None:
    def case() -> Any:
        with RunspacePool(_wsman(endpoint)) as pool:
            ps = PowerShell(pool)
            ps.add_script(_version_script())
            return json.loads(ps.invoke()[0])

    assert _bounded(endpoint, case)["os_build"] == endpoint.fake.os.build


def test_pypsrp_client_execute_ps_is_refused_as_not_vetted(endpoint: Endpoint) -> None:
    options = endpoint.connect_options()
    client = Client(options.pop("server"), operation_timeout=2, read_timeout=10, **options)
    _output, streams, had_errors = _bounded(endpoint, lambda: client.execute_ps("hostname"))
    assert had_errors  # execute_ps wraps the text in Invoke-Expression | Out-String
    assert streams.error[0].fq_error == "ScriptsNotAllowed"


def test_pypsrp_winrs_process_gets_a_clear_answer(endpoint: Endpoint) -> None:
    def case() -> Any:
        with WinRS(_wsman(endpoint)) as shell:
            process = Process(shell, "whoami")
            process.invoke()
            process.signal(SignalCode.TERMINATE)
            return process.rc, process.stdout, process.stderr

    assert _bounded(endpoint, case) == (1, b"", NOT_SUPPORTED)


def test_pypsrp_pool_operations_and_stop(endpoint: Endpoint) -> None:
    def case() -> Any:
        with RunspacePool(_wsman(endpoint)) as pool:
            available = pool.get_available_runspaces()
            pool.max_runspaces = 3
            pool.min_runspaces = 2
            pool.reset_runspace_state()
            metadata = pool.get_command_metadata("Get-*")
            endpoint.faults.inject(Fault.SLOW, on="Command", seconds=60)
            ps = PowerShell(pool)
            ps.add_script(_version_script())
            ps.begin_invoke()
            # pypsrp 0.9 signals "powershell/signal/ctrl_c", which Windows does not take as
            # a stop: it closes the command. pypsrp marks it STOPPED itself, Receives nothing.
            ps.stop()
            return available, pool.get_available_runspaces(), metadata, ps.state

    assert _bounded(endpoint, case) == (1, 3, [], PSInvocationState.STOPPED)
    assert endpoint.fake.calls == []  # closed before it ran


# -- psrp 1.0 (pypsrp 1.0.0b1, own venv) -------------------------------------------------


def _psrp1(endpoint: Endpoint, case: str, **extra: Any) -> Any:
    if not PSRP1_PYTHON.exists():
        pytest.fail(f"{PSRP1_PYTHON} is missing: run `make psrp1`")
    connection: dict[str, Any] = {
        "server": endpoint.host,
        "port": endpoint.port,
        "scheme": "https" if endpoint.ssl else "http",
        "auth": endpoint.auth,
        "username": endpoint.username,
        "password": endpoint.password,
        "operation_timeout": OPERATION_TIMEOUT,
        "read_timeout": 10,
    }
    if endpoint.certificate is not None:
        connection["verify"] = str(endpoint.certificate)
    elif endpoint.auth == "basic":
        connection["encryption"] = "never"
    request = {"case": case, "connection": connection, "script": _version_script(), "params": {}}
    before = endpoint.http_requests
    try:
        done = subprocess.run(
            [str(PSRP1_PYTHON), str(ROOT / "tests" / "psrp1_client.py")],
            input=json.dumps({**request, **extra}),
            capture_output=True,
            text=True,
            timeout=HARD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"psrp 1.0 hung in {case!r} (> {HARD_TIMEOUT} s)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert endpoint.http_requests - before <= MAX_REQUESTS, "psrp 1.0 spun"
    return json.loads(done.stdout)


def _outputs(answer: dict[str, Any]) -> list[int]:
    assert "ok" in answer, answer
    return [json.loads(item)["os_build"] for item in answer["ok"]]


@pytest.mark.parametrize("case", ["run", "parallel", "async_run"])
def test_psrp1_runs_scripts(endpoint: Endpoint, case: str) -> None:
    answer = _psrp1(endpoint, case)
    if case == "run":
        assert _outputs(answer) == [endpoint.fake.os.build]
    else:  # three pipelines at once on max_runspaces=3
        assert [_outputs({"ok": one}) for one in answer["ok"]] == [[endpoint.fake.os.build]] * 3


def test_psrp1_pool_operations(endpoint: Endpoint) -> None:
    answer = _psrp1(endpoint, "pool_ops")
    assert answer["ok"][:6] == [1, True, True, False, True, 3]
    assert answer["ok"][6] == ["CommandMetadataCount(Count=0)"]


def test_psrp1_stop_ends_a_running_pipeline(endpoint: Endpoint) -> None:
    endpoint.faults.inject(Fault.SLOW, on="Command", seconds=60)
    assert _psrp1(endpoint, "stop") == {"ok": "PSInvocationState.Stopped"}
    assert endpoint.fake.calls == []


def test_psrp1_unknown_configuration_is_a_clear_fault(endpoint: Endpoint) -> None:
    answer = _psrp1(endpoint, "unknown_configuration")
    assert (answer["error"], answer["code"]) == ("WSManFault", NOT_IN_CATALOG)


@pytest.mark.parametrize("case", ["idle", "async_idle"])
def test_psrp1_idle_pool_long_polls(endpoint: Endpoint, case: str) -> None:
    receives = endpoint.service.requests["Receive"]
    started = time.monotonic()
    answer = _psrp1(endpoint, case, seconds=IDLE_SECONDS)
    assert "ok" in answer, answer
    polls = endpoint.service.requests["Receive"] - receives
    timeouts = (time.monotonic() - started) / OPERATION_TIMEOUT
    assert polls <= timeouts + 3  # one Receive per OperationTimeout, plus opening


# -- pywinrm ---------------------------------------------------------------------------


def _pywinrm(endpoint: Endpoint) -> winrm.Session:
    transport = "ssl" if endpoint.ssl else endpoint.auth
    return winrm.Session(
        endpoint.url,
        auth=(endpoint.username, endpoint.password),
        transport=transport,
        server_cert_validation="validate",
        ca_trust_path=str(endpoint.certificate) if endpoint.certificate else "legacy_requests",
        operation_timeout_sec=OPERATION_TIMEOUT + 1,
        read_timeout_sec=10,
    )


@pytest.mark.parametrize("how", ["run_cmd", "run_ps"])
def test_pywinrm_gets_a_clear_answer(endpoint: Endpoint, how: str) -> None:
    session = _pywinrm(endpoint)

    def case() -> Any:
        result = session.run_cmd("ipconfig") if how == "run_cmd" else session.run_ps("hostname")
        return result.status_code, result.std_out, result.std_err

    assert _bounded(endpoint, case) == (1, b"", NOT_SUPPORTED)
