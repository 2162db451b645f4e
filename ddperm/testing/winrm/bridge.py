"""Binds the protocol to the model: a script text plus parameters becomes one
``FakeHost.execute(name, params)`` call, the script known by its SHA-256."""

from __future__ import annotations

import json
from typing import Any

from ddperm.scripts import ScriptRegistry, default_registry, sha256_text
from ddperm.testing.fakehost import FakeHost
from ddperm.testing.winrm.shell import not_a_vetted_script


class FakeHostRunner:
    """A ScriptRunner answering from ``fake`` (which may be swapped between calls).

    Text that is not a vetted script is refused, as a locked-down endpoint would.
    """

    def __init__(self, fake: FakeHost, registry: ScriptRegistry | None = None) -> None:
        self.fake = fake
        self.registry = registry if registry is not None else default_registry()

    def __call__(self, text: str, params: dict[str, Any]) -> str:
        known = self.registry.by_sha256(sha256_text(text))
        if known is None:
            raise not_a_vetted_script()
        result = self.fake.execute(known.name, params)
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False)
