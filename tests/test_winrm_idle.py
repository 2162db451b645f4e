"""A keep-alive connection the host closed while idle (HTTP.sys: 120 s by default; the twin
here: a fraction of a second) must cost a long-lived Host nothing, not even a destructive
call: the call runs exactly once, on a new connection with a new security context."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pypsrp.exceptions import WinRMTransportError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

import ddperm
from ddperm.retry import RetryPolicy
from ddperm.scripts import ScriptRegistry
from ddperm.testing import FakeHost
from ddperm.testing.jobs.hyperv import seed_docker_vm
from ddperm.testing.winrm import Endpoint, serve

IDLE = 0.3
NO_RETRY = RetryPolicy(attempts=1, deadline=30, initial_wait=0.01, max_wait=0.01)
"""One attempt: a call after idle must pass on its own, not through a retry."""


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost(), auth="ntlm", idle_timeout=IDLE) as served:
        yield served


def wait_until_idle_closed(endpoint: Endpoint) -> None:
    """Wait (bounded) until the endpoint has closed every idle connection."""
    deadline = time.monotonic() + 30
    while endpoint.open_connections:
        assert time.monotonic() < deadline, "the endpoint never closed the idle connection"
        time.sleep(IDLE / 10)


def _runs(fake: FakeHost, script: str) -> int:
    return sum(1 for name, _ in fake.calls if name == script)


def test_destructive_call_after_an_idle_close_runs_exactly_once(endpoint: Endpoint) -> None:
    seed_docker_vm(endpoint.fake)
    with ddperm.connect(**endpoint.connect_options(), retry=NO_RETRY) as host:
        host.version()
        wait_until_idle_closed(endpoint)
        assert host.vm.destroy().existed is True
    assert _runs(endpoint.fake, "vm_destroy") == 1
    assert endpoint.fake.vms == []


def test_every_call_after_repeated_idle_closes_passes_on_one_pool(endpoint: Endpoint) -> None:
    with ddperm.connect(**endpoint.connect_options(), retry=NO_RETRY) as host:
        for _ in range(3):
            host.version()
            wait_until_idle_closed(endpoint)
        host.version()
        assert host.runner.pool_opens == 1  # type: ignore[attr-defined]
    assert _runs(endpoint.fake, "version") == 4


def test_a_body_sealed_for_a_lost_connection_gets_an_empty_400_and_runs_nothing(
    endpoint: Endpoint,
) -> None:
    """What Windows answers pypsrp 0.9 itself, which re-authenticates a new connection
    with the body it sealed for the old one (evil-winrm-py #3, pypsrp #21)."""
    options = endpoint.connect_options()
    wsman = WSMan(options.pop("server"), **options)
    script = ScriptRegistry().get("version")
    pool = RunspacePool(wsman)
    pool.open()
    wait_until_idle_closed(endpoint)
    ps = PowerShell(pool)
    ps.add_script(script.text)
    with pytest.raises(WinRMTransportError) as raised:
        ps.invoke()
    wsman.close()  # the pool cannot be closed: every later message is sealed the same way
    assert (raised.value.code, raised.value.response_text) == (400, "")
    assert _runs(endpoint.fake, "version") == 0
