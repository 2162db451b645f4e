"""Binds the protocol to the model: a script text plus parameters becomes one
``FakeHost.execute(name, params)`` call, the script known by its SHA-256."""

from __future__ import annotations

import json
from typing import Any

from ddperm.scripts import ScriptRegistry, default_registry, sha256_text
from ddperm.testing.fakehost import FakeHost
from ddperm.testing.winrm.shell import ScriptRunner, not_a_vetted_script


def fake_runner(fake: FakeHost, registry: ScriptRegistry | None = None) -> ScriptRunner:
    """A ScriptRunner answering from ``fake``; text that is not a vetted script is refused."""
    scripts = registry if registry is not None else default_registry()

    def run(text: str, params: dict[str, Any]) -> str:
        known = scripts.by_sha256(sha256_text(text))
        if known is None:
            raise not_a_vetted_script()
        result = fake.execute(known.name, params)
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False)

    return run
