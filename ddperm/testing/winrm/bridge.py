"""Binds the protocol to the model: a script text plus parameters becomes one
``FakeHost.execute(name, params)`` call, the script known by its SHA-256."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ddperm.scripts import ScriptRegistry, default_registry, sha256_text
from ddperm.testing.errors import scripts_not_allowed
from ddperm.testing.fakehost import FakeHost


class FakeHostRunner:
    """A ScriptHost answering from ``fake`` (which may be swapped between calls).

    Text that is not a vetted script is refused, as a locked-down endpoint would.
    Pipelines run in parallel on the wire; the model takes one call at a time.
    """

    def __init__(
        self,
        fake: FakeHost,
        registry: ScriptRegistry | None = None,
        on_restart: Callable[[FakeHost], None] | None = None,
    ) -> None:
        self.fake = fake
        self.registry = registry if registry is not None else default_registry()
        self.on_restart = on_restart
        self.on_winrm_restart: Callable[[], None] | None = None
        """Called when a script restarts WinRM (Register-PSSessionConfiguration)."""
        self._lock = threading.Lock()

    @property
    def powershell_version(self) -> str:
        return self.fake.os.powershell_version

    @property
    def os_version(self) -> str:
        return self.fake.os.version

    def __call__(self, text: str, params: dict[str, Any]) -> str:
        known = self.registry.by_sha256(sha256_text(text))
        if known is None:
            raise scripts_not_allowed(text)
        with self._lock:
            fake = self.fake
            hook = None
            if self.on_restart is not None:
                on_restart = self.on_restart

                def hook(_delay_seconds: int) -> None:
                    on_restart(fake)

                fake.restart_hooks.append(hook)  # a restart script hands its restart to us
            winrm = self.on_winrm_restart
            if winrm is not None:
                fake.winrm_restart_hooks.append(winrm)
            try:
                result = fake.execute(known.name, params)
            finally:
                if hook is not None:
                    fake.restart_hooks.remove(hook)
                if winrm is not None:
                    fake.winrm_restart_hooks.remove(winrm)
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False)
