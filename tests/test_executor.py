"""The executor's contract: parameter sanity, the retry policy, and output validation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ddperm.components.system import HostVersion
from ddperm.errors import AuthenticationError, OutputError, PolicyError, TransportError
from ddperm.executor import Executor
from ddperm.host import Host
from ddperm.retry import RetryPolicy
from ddperm.runner import Params
from ddperm.scripts import Script, ScriptKind
from ddperm.testing import FakeHost, TwinRunner

FAST = RetryPolicy(attempts=4, deadline=5.0, initial_wait=0.001, max_wait=0.002)


@dataclass
class FlakyTransport:
    """A transport that fails the first ``failures`` calls, then reaches the twin."""

    inner: TwinRunner
    failures: int
    error: type[TransportError] = TransportError
    attempts: int = 0
    seen: list[str] = field(default_factory=list)

    def run(self, script: Script, params: Params) -> str:
        self.attempts += 1
        self.seen.append(script.name)
        if self.attempts <= self.failures:
            raise self.error("connection reset by peer")
        return self.inner.run(script, params)

    def close(self) -> None:
        self.inner.close()


def test_reads_are_retried_through_transport_faults() -> None:
    fake = FakeHost()
    transport = FlakyTransport(TwinRunner(fake), failures=2)
    info = Host(transport, retry=FAST).version()
    assert info.host.os_build == fake.os.build
    assert transport.attempts == 3
    assert len(fake.calls) == 1  # the host ran it once


def test_retries_stop_at_the_attempt_limit() -> None:
    fake = FakeHost()
    transport = FlakyTransport(TwinRunner(fake), failures=10)
    with pytest.raises(TransportError):
        Host(transport, retry=FAST).version()
    assert transport.attempts == FAST.attempts
    assert fake.calls == []


def test_authentication_failures_are_not_retried() -> None:
    transport = FlakyTransport(TwinRunner(FakeHost()), failures=10, error=AuthenticationError)
    with pytest.raises(AuthenticationError):
        Host(transport, retry=FAST).version()
    assert transport.attempts == 1


def test_destructive_kind_is_never_retried() -> None:
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        raise TransportError("reset")

    with pytest.raises(TransportError):
        FAST.call(ScriptKind.DESTRUCTIVE, flaky)
    assert calls == 1
    calls = 0
    with pytest.raises(TransportError):
        FAST.call(ScriptKind.ENSURE, flaky)
    assert calls == FAST.attempts


def test_overall_deadline_bounds_the_retries() -> None:
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        raise TransportError("timeout")

    policy = RetryPolicy(attempts=1000, deadline=0.05, initial_wait=0.01, max_wait=0.02)
    with pytest.raises(TransportError):
        policy.call(ScriptKind.READ, flaky)
    assert 1 < calls < 1000


@pytest.mark.parametrize(
    "params",
    [
        {"VMName": "OtherVM"},
        {"VMName": "dockerdesktopvm"},
        {"not an identifier": "x"},
        {"Path": {"nested": "dict"}},
        {"Path": b"bytes"},
        {"Items": ["ok", {"no": 1}]},
    ],
)
def test_executor_refuses_bad_parameters_before_running(params: Params) -> None:
    fake = FakeHost()
    executor = Executor(TwinRunner(fake))
    with pytest.raises(PolicyError):
        executor.call("version", HostVersion, params)
    assert fake.calls == []


class _Answer:
    def __init__(self, text: str) -> None:
        self.text = text

    def run(self, script: Script, params: Params) -> str:
        return self.text

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        '{"os_caption": "x"}',
        '[{"os_caption": "x"}]',
        '{"os_caption":"W","os_version":"10","os_build":"many","powershell_version":"5.1",'
        '"powershell_edition":"Desktop","computer_name":"PC"}',
    ],
)
def test_answers_that_do_not_match_the_model_raise_output_error(text: str) -> None:
    with pytest.raises(OutputError):
        Host(_Answer(text)).version()
