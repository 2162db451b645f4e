"""A real Windows host, when one is configured (DDPERM_TEST_HOST and credentials).

With DDPERM_TEST_HOST set, tests/backends.py also adds the ``real-host`` backend to
every contract test; without it the real-host test here shows one skip with the reason.
"""

from __future__ import annotations

import os

import pytest

from ddperm.testing import FakeHost
from ddperm.testing.winrm import serve
from ddperm.transports import PSRPRunner
from tests.backends import real_host


def _version_twice_over_one_pool() -> None:
    with real_host(FakeHost()) as backend:
        first = backend.host.version()
        second = backend.host.version()
        assert first.host.os_build == second.host.os_build > 0
        assert isinstance(backend.host.runner, PSRPRunner)
        assert backend.host.runner.pool_opens == 1


@pytest.mark.real_host
@pytest.mark.skipif(
    not os.environ.get("DDPERM_TEST_HOST"),
    reason="no real Windows host: set DDPERM_TEST_HOST, DDPERM_TEST_USERNAME, "
    "DDPERM_TEST_PASSWORD (and DDPERM_TEST_AUTH, DDPERM_TEST_SSL=0|1) to run",
)
def test_real_host_answers_version_over_one_pool() -> None:
    _version_twice_over_one_pool()


def test_real_host_backend_reads_its_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeHost()
    with serve(fake, auth="ntlm") as endpoint:
        for name, value in {
            "HOST": endpoint.host,
            "PORT": str(endpoint.port),
            "SSL": "0",
            "AUTH": "ntlm",
            "USERNAME": endpoint.username,
            "PASSWORD": endpoint.password,
        }.items():
            monkeypatch.setenv(f"DDPERM_TEST_{name}", value)
        _version_twice_over_one_pool()
        assert [name for name, _ in fake.calls] == ["version", "version"]
