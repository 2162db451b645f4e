"""WS-Man behaviour of the twin endpoint that pypsrp relies on, seen through pypsrp."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from pypsrp.complex_objects import RunspacePoolState
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan

from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, serve

OPERATION_TIMED_OUT = 0x80338029
SHELL_NOT_FOUND = 0x8033805B


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost()) as served:
        yield served


@pytest.fixture
def pool(endpoint: Endpoint) -> Iterator[RunspacePool]:
    options = endpoint.connect_options()
    with RunspacePool(WSMan(options.pop("server"), **options)) as opened:
        yield opened


def test_pool_receive_with_nothing_to_say_waits_then_faults_as_timed_out(
    pool: RunspacePool,
) -> None:
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout", timeout=1)
    assert fault.value.code == OPERATION_TIMED_OUT


def test_receive_on_an_unknown_command_faults_as_invalid_selectors(pool: RunspacePool) -> None:
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout", command_id=str(uuid.uuid4()).upper(), timeout=30)
    assert fault.value.code == SHELL_NOT_FOUND  # same code: 0x8033805B, UnexpectedSelectors


def test_requests_to_a_deleted_shell_fault_as_shell_not_found(
    pool: RunspacePool, endpoint: Endpoint
) -> None:
    endpoint.kill_shells()
    with pytest.raises(WSManFaultError) as fault:
        pool.shell.receive("stdout")
    assert fault.value.code == SHELL_NOT_FOUND
    pool.state = RunspacePoolState.CLOSED  # nothing left to delete on exit


def test_get_reports_a_live_shell(pool: RunspacePool) -> None:
    assert pool.is_alive()


def test_unauthenticated_request_is_challenged_with_both_schemes(endpoint: Endpoint) -> None:
    answer = requests.post(endpoint.url, data=b"<x/>", timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="WSMAN", Negotiate'
    assert answer.headers.get("Connection") != "close"


def test_only_the_wsman_path_is_served(endpoint: Endpoint) -> None:
    auth = (endpoint.username, endpoint.password)
    assert requests.post(endpoint.url + "x", data=b"", auth=auth, timeout=10).status_code == 404
