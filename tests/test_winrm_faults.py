"""Transport faults planned on the twin endpoint, and how ddperm's retry policy meets them:
reads and ensure-style writes retried to success, destructive operations never run twice,
authentication failures immediate, timeouts bounded by the deadline, the pool recovering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ddperm
from ddperm.errors import AuthenticationError, TransportError
from ddperm.host import Host
from ddperm.retry import RetryPolicy
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, Fault, serve
from ddperm.transports.psrp import PSRPRunner

FAST_RETRY = RetryPolicy(attempts=4, deadline=30, initial_wait=0.01, max_wait=0.05)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost()) as served:
        yield served


@pytest.fixture
def fake(endpoint: Endpoint) -> FakeHost:
    endpoint.fake = FakeHost()
    endpoint.faults.clear()
    endpoint.faults.injected.clear()
    return endpoint.fake


def _connect(endpoint: Endpoint, retry: RetryPolicy = FAST_RETRY, **options: object) -> Host:
    return ddperm.connect(**endpoint.connect_options(), retry=retry, **options)


def _pool_opens(host: Host) -> int:
    assert isinstance(host.runner, PSRPRunner)
    return host.runner.pool_opens


def _runs(fake: FakeHost, script: str) -> int:
    return sum(1 for name, _ in fake.calls if name == script)


def test_read_is_retried_after_a_drop_mid_receive(endpoint: Endpoint, fake: FakeHost) -> None:
    with _connect(endpoint) as host:
        host.version()
        endpoint.faults.inject(Fault.DROP, on="Receive")
        assert host.version().host.os_build == fake.os.build
        assert endpoint.faults.injected == [(Fault.DROP, "Receive")]
        assert _runs(fake, "version") == 3  # the dropped run happened; its answer was lost
        assert _pool_opens(host) == 2


def test_ensure_write_is_retried_and_the_retry_changes_nothing(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    with _connect(endpoint) as host:
        host.version()
        endpoint.faults.inject(Fault.DROP, on="Receive")
        change = host.engine.start()
        assert _runs(fake, "engine_start") == 2
        assert change.changed is False  # the lost first run started it; the retry found it so
        assert change.after.status == "Running"
        assert fake.services["docker"].status == "Running"


def test_destructive_operation_is_not_retried_after_a_drop(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    with _connect(endpoint) as host:
        host.version()
        endpoint.faults.inject(Fault.DROP, on="Receive")
        with pytest.raises(TransportError):
            host.vm.destroy()
        assert _runs(fake, "vm_destroy") == 1
        assert host.version().host.os_build == fake.os.build  # the pool recovers


@pytest.mark.parametrize("fault", [Fault.WSMAN_FAULT, Fault.UNAVAILABLE])
def test_busy_answers_are_retried_for_reads(
    endpoint: Endpoint, fake: FakeHost, fault: Fault
) -> None:
    with _connect(endpoint) as host:
        endpoint.faults.inject(fault, on="Command", times=2)
        assert host.version().host.os_build == fake.os.build
        assert [f for f, _ in endpoint.faults.injected] == [fault, fault]
        assert _runs(fake, "version") == 1


def test_destructive_operation_is_not_retried_after_a_busy_answer(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    with _connect(endpoint) as host:
        endpoint.faults.inject(Fault.WSMAN_FAULT, on="Command")
        with pytest.raises(TransportError):
            host.vm.destroy()
        assert _runs(fake, "vm_destroy") == 0
        assert host.vm.destroy().existed is False


def test_stall_past_the_read_timeout_is_retried(endpoint: Endpoint, fake: FakeHost) -> None:
    with _connect(endpoint, operation_timeout=1, read_timeout=2) as host:
        host.version()
        endpoint.faults.inject(Fault.STALL, on="Receive", seconds=4)
        assert host.version().host.os_build == fake.os.build
        assert endpoint.faults.injected == [(Fault.STALL, "Receive")]


def test_endless_stall_surfaces_as_transport_error_at_the_deadline(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    patient = RetryPolicy(attempts=50, deadline=3, initial_wait=0.01, max_wait=0.05)
    with _connect(endpoint, patient, operation_timeout=1, read_timeout=2) as host:
        host.version()
        endpoint.faults.inject(Fault.STALL, on="Receive", seconds=4, times=50)
        with pytest.raises(TransportError):
            host.version()
        assert 2 <= len(endpoint.faults.injected) < 50  # retried, then stopped by the deadline
        endpoint.faults.clear()
        assert host.version().host.os_build == fake.os.build


def test_rejected_credentials_fail_at_once(endpoint: Endpoint, fake: FakeHost) -> None:
    endpoint.faults.inject(Fault.REJECT_CREDENTIALS, times=10)
    with _connect(endpoint) as host, pytest.raises(AuthenticationError):
        host.version()
    assert len(endpoint.faults.injected) == 1
    assert fake.calls == []


def test_killed_shell_is_reopened_without_running_anything_twice(
    endpoint: Endpoint, fake: FakeHost
) -> None:
    with _connect(endpoint) as host:
        host.version()
        assert endpoint.kill_shells() >= 1
        assert host.vm.destroy().existed is False
        assert _runs(fake, "vm_destroy") == 1
        assert _pool_opens(host) == 2
