"""Shared by the CLI tests: a clean environment and a port nothing listens on."""

from __future__ import annotations

import os
import socket

import pytest


@pytest.fixture(autouse=True)
def no_ddperm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DDPERM_* variable of the person running the tests leaks into a command."""
    for name in [n for n in os.environ if n.startswith("DDPERM_")]:
        monkeypatch.delenv(name)


def closed_port() -> int:
    """A loopback port that was free a moment ago (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
