"""The in-process twin runner: a Runner that answers from a FakeHost."""

from __future__ import annotations

import json

from ddperm.errors import PolicyError
from ddperm.runner import Params
from ddperm.scripts import Script, ScriptRegistry, default_registry
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeHost


class TwinRunner:
    """Runs vetted scripts against a FakeHost, by script name and typed parameters.

    Like a real host it only ever sees the script text: the text must be a vetted
    script (identified by its SHA-256), or the twin refuses it.
    """

    def __init__(self, fake: FakeHost, registry: ScriptRegistry | None = None) -> None:
        self.fake = fake
        self.registry = registry if registry is not None else default_registry()

    def run(self, script: Script, params: Params) -> str:
        known = self.registry.by_sha256(script.sha256)
        if known is None:
            raise PolicyError(f"the twin only runs vetted scripts; {script.name!r} is not one")
        try:
            result = self.fake.execute(known.name, params)
        except ErrorRecord as record:
            raise record.to_host_error(known.name) from None
        return json.dumps(result, separators=(",", ":"))

    def close(self) -> None:
        """Nothing to release in-process."""
