"""What ddperm logs: each call (INFO) and attempt (DEBUG) with host, transport, script,
parameters, duration and outcome; retries at WARNING; never a secret, and no wire-library
DEBUG (NTLM tokens, WS-Man bodies) unless DDPERM_LOG_WIRE=1."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

import ddperm
from ddperm.components.system import HostVersion
from ddperm.components.vhd import VHDSize
from ddperm.errors import HostError, PolicyError, TransportError
from ddperm.executor import Executor, loggable
from ddperm.guard import VM_NAME
from ddperm.retry import RetryPolicy
from ddperm.runner import Params
from ddperm.scripts import Script, default_registry
from ddperm.testing import FakeHost, TwinRunner
from ddperm.testing.winrm import serve

VERSION = default_registry().get("version")
NTLM_TOKEN = "TlRMTVNT"  # base64 of "NTLMSS", how every NTLM message starts


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def test_a_call_is_logged_with_host_script_parameters_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ddperm")
    with ddperm.Host(TwinRunner(FakeHost())) as host:
        host.vm.info()
    attempt, call = _records(caplog, "ddperm.executor")
    for record in (attempt, call):
        assert vars(record)["host"] == "localhost"
        assert vars(record)["transport"] == "TwinRunner"
        assert vars(record)["script"] == "vm_info"
        sha = default_registry().get("vm_info").sha256[:12]
        assert vars(record)["script_sha256"] == sha
        assert vars(record)["params"] == {"VMName": "DockerDesktopVM"}
        assert vars(record)["attempt"] == 1
        assert vars(record)["seconds"] >= 0
        assert vars(record)["outcome"] == "ok"
        assert "vm_info" in record.getMessage() and sha in record.getMessage()
    assert (attempt.levelno, call.levelno) == (logging.DEBUG, logging.INFO)


def test_a_host_error_is_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ddperm")
    with pytest.raises(HostError):  # the twin has no VM
        Executor(TwinRunner(FakeHost())).call("vhd_size", VHDSize, {"VMName": VM_NAME})
    (call,) = _records(caplog, "ddperm.executor")
    assert vars(call)["outcome"] == "HostError InvalidParameter"  # Get-VM: no such VM
    assert "InvalidParameter" in call.getMessage()


@dataclass
class _DropsFirst:
    """A transport whose first attempt fails the way a dropped link does."""

    inner: TwinRunner
    attempts: int = 0

    def run(self, script: Script, params: Params) -> str:
        self.attempts += 1
        if self.attempts == 1:
            raise TransportError("pc01:5986 did not answer in time")
        return self.inner.run(script, params)

    def close(self) -> None:
        self.inner.close()


def test_a_retry_is_a_warning_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ddperm")
    retry = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002)
    ddperm.Host(_DropsFirst(TwinRunner(FakeHost())), retry=retry).version()
    (warning,) = _records(caplog, "ddperm.retry")
    assert warning.levelno == logging.WARNING
    assert vars(warning)["reason"] == "pc01:5986 did not answer in time"
    assert "retrying version on localhost" in warning.getMessage()
    attempts = [r for r in _records(caplog, "ddperm.executor") if r.levelno == logging.DEBUG]
    assert [vars(r)["outcome"] for r in attempts] == ["TransportError", "ok"]
    (call,) = [r for r in _records(caplog, "ddperm.executor") if r.levelno == logging.INFO]
    assert (vars(call)["attempt"], vars(call)["outcome"]) == (2, "ok")


def test_secret_looking_parameters_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    shown = loggable({"Password": "a", "ApiToken": "b", "client_secret": "c", "Credential": "d"})
    assert set(shown.values()) == {"<redacted>"}
    assert loggable({"Content": "x" * 500})["Content"] == "x" * 120 + "... (500 characters)"
    caplog.set_level(logging.DEBUG, logger="ddperm")
    with pytest.raises(PolicyError):  # no script declares it: refused before anything runs
        Executor(TwinRunner(FakeHost())).call("version", HostVersion, {"UserPassword": "hunter2"})
    assert not any("hunter2" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("wire", [False, True], ids=["default", "DDPERM_LOG_WIRE=1"])
def test_no_password_or_ntlm_token_reaches_a_debug_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, wire: bool
) -> None:
    password = "Wire-Secret-81"
    if wire:
        monkeypatch.setenv("DDPERM_LOG_WIRE", "1")
    else:
        monkeypatch.delenv("DDPERM_LOG_WIRE", raising=False)
    caplog.set_level(logging.DEBUG)  # everything, every logger
    with (
        serve(FakeHost(), auth="ntlm", password=password) as endpoint,
        ddperm.connect(**endpoint.connect_options()) as host,
    ):
        host.version()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "call version on 127.0.0.1 via PSRPRunner" in text
    assert password not in text
    # the wire libraries do log NTLM tokens at DEBUG: only DDPERM_LOG_WIRE=1 lets them through
    assert (NTLM_TOKEN in text) is wire
