"""What every component shares: the executor, and the Windows-containers policy switch."""

from __future__ import annotations

from ddperm.errors import PolicyError
from ddperm.executor import Executor


class Component:
    """One family of jobs on one host, run through the host's executor."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor


class WindowsContainersGated(Component):
    """A component that the installer's ``--no-windows-containers`` switches off."""

    def __init__(self, executor: Executor, *, enabled: bool) -> None:
        super().__init__(executor)
        self.enabled = enabled

    def _require_enabled(self) -> None:
        if not self.enabled:
            raise PolicyError(
                "Windows containers are disabled on this host (--no-windows-containers); "
                "refused before anything ran"
            )
