"""The runner interface: the strict cut-off between ddperm and a transport.

A runner takes one vetted script and its parameters as data, runs it on a host
and returns the text of the single JSON document the script wrote. It raises
``HostError`` for an error record and ``TransportError`` when the host could not
be reached. Runners know nothing about Docker Desktop; models live above them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias

from ddperm.scripts import Script

ParamValue: TypeAlias = str | int | bool | Sequence[str] | Sequence[int] | None
Params: TypeAlias = Mapping[str, ParamValue]


class Runner(Protocol):
    """Runs vetted scripts on one Windows host."""

    def run(self, script: Script, params: Params) -> str:
        """Run ``script`` with ``params`` bound to its ``param()`` block; return its JSON text."""
        ...

    def close(self) -> None:
        """Release connections, pools or processes; further calls may reopen them."""
        ...
