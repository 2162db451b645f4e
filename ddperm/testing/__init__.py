"""The Windows-host twin: a state model of a Docker Desktop machine, and runners over it.

``twin_host()`` gives a ``Host`` backed by an in-process ``FakeHost``; seed the
fake with any state first (see ``FakeHost``).
"""

from __future__ import annotations

from typing import Any

from ddperm.host import Host
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import (
    CONTAINERS_DATA_ROOT,
    DEFAULT_DATA_FOLDER,
    HOSTS_PATH,
    Caller,
    FakeGroup,
    FakeHost,
    FakeService,
    FakeVHD,
    FakeVM,
    OSInfo,
)
from ddperm.testing.fs import FakeFileSystem
from ddperm.testing.runner import TwinRunner


def twin_host(fake: FakeHost | None = None, **host_options: Any) -> Host:
    """A ``Host`` whose scripts run against ``fake`` (a fresh healthy machine by default)."""
    return Host(TwinRunner(fake if fake is not None else FakeHost()), **host_options)


__all__ = [
    "CONTAINERS_DATA_ROOT",
    "DEFAULT_DATA_FOLDER",
    "HOSTS_PATH",
    "Caller",
    "ErrorRecord",
    "FakeFileSystem",
    "FakeGroup",
    "FakeHost",
    "FakeService",
    "FakeVHD",
    "FakeVM",
    "OSInfo",
    "TwinRunner",
    "twin_host",
]
