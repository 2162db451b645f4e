"""A stand-in ``powershell`` for the local transport, answering from an in-process FakeHost.

``standin_host(fake)`` gives a ``Host`` whose scripts go through ``ddperm.local()``,
a real child process per call (or one for all, ``persistent=True``) and the stand-in
executable (``powershell.py``), which asks an ``Agent`` in this process to run them
against ``fake``. The launcher is a POSIX shell script.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ddperm.host import Host
from ddperm.testing.fakehost import FakeHost
from ddperm.testing.standin.agent import Agent
from ddperm.transports.local import local

STANDIN = Path(__file__).with_name("powershell.py")


def write_launcher(directory: Path, name: str = "powershell") -> Path:
    """Write an executable ``name`` into ``directory`` that runs the stand-in."""
    path = directory / name
    command = shlex.join([sys.executable, str(STANDIN)])
    path.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


@contextmanager
def standin_host(
    fake: FakeHost | None = None, *, persistent: bool = False, **host_options: Any
) -> Iterator[Host]:
    """A ``Host`` over the local transport and the stand-in, backed by ``fake``."""
    with (
        tempfile.TemporaryDirectory(prefix="ddperm-bin-") as folder,
        Agent(fake if fake is not None else FakeHost(), host_options.get("registry")) as agent,
        local(
            str(write_launcher(Path(folder))), persistent=persistent, env=agent.env, **host_options
        ) as host,
    ):
        yield host


__all__ = ["STANDIN", "Agent", "standin_host", "write_launcher"]
