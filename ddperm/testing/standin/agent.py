"""The agent: serves a test's in-process FakeHost to stand-in powershell processes.

Every stand-in process is separate, yet tests seed ``fake`` before a call and look
at it afterwards, so the stand-in asks this agent (a thread in the test process, on
a Unix socket named by ``DDPERM_STANDIN_AGENT``) to run each script. One JSON line
each way per script:

- request: ``{"pid": int, "sha256": hex, "parameters": {...}}``; the script is known
  only by the SHA-256 of the text the stand-in received (``ScriptRegistry.by_sha256``); the
  parameters are bound as the wrapper reads them under the fake's edition
  (``editions.wrapper_parameters``);
- reply: the wrapper's frame, ``{"output": text}`` or ``{"error": {...}}``;
  ``{"drop": reason}`` when the twin cut the link (``TransportError``, e.g. a power
  cut): the stand-in then vanishes without an answer, as a killed process would; or
  ``{"crash": traceback}`` when the twin raised anything but an ``ErrorRecord``
  (a twin bug: recorded, and raised again by ``close()``).
"""

from __future__ import annotations

import json
import shutil
import socketserver
import tempfile
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from ddperm.errors import TransportError
from ddperm.scripts import ScriptRegistry, default_registry
from ddperm.testing.editions import wrapper_parameters
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeHost

ENV_VAR = "DDPERM_STANDIN_AGENT"


def _error_frame(record: ErrorRecord) -> dict[str, Any]:
    return {
        "error": {
            "message": record.message,
            "fully_qualified_error_id": record.fqid,
            "category": record.category,
            "target": record.target,
            "exception_type": record.exception_type,
        }
    }


class Agent:
    """Runs scripts for stand-in processes against ``fake``; ``pids`` lists who asked."""

    def __init__(self, fake: FakeHost, registry: ScriptRegistry | None = None) -> None:
        self.fake = fake
        self.registry = registry if registry is not None else default_registry()
        self.pids: list[int] = []
        self.crashes: list[str] = []
        self._folder = Path(tempfile.mkdtemp(prefix="ddperm-agent-"))
        self.path = self._folder / "agent.sock"
        agent = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    reply = agent.reply(json.loads(self.rfile.readline()))
                except Exception:
                    agent.crashes.append(traceback.format_exc())
                    reply = {"crash": agent.crashes[-1]}
                self.wfile.write(json.dumps(reply).encode("utf-8") + b"\n")

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def env(self) -> dict[str, str]:
        """What a stand-in process needs in its environment to find this agent."""
        return {ENV_VAR: str(self.path)}

    def reply(self, request: dict[str, Any]) -> dict[str, Any]:
        self.pids.append(int(request["pid"]))
        script = self.registry.by_sha256(str(request["sha256"]))
        if script is None:
            return _error_frame(
                ErrorRecord(
                    "The stand-in runs only vetted scripts; this text is not one.",
                    "DdpermStandInUnvettedScript",
                    "SecurityError",
                )
            )
        try:
            parameters = wrapper_parameters(self.fake, request["parameters"])
            result = self.fake.execute(script.name, parameters)
        except ErrorRecord as record:
            return _error_frame(record)
        except TransportError as lost:  # e.g. the twin's power cut: the link drops
            return {"drop": str(lost)}
        return {"output": json.dumps(result, separators=(",", ":"), ensure_ascii=False)}

    def close(self) -> None:
        """Stop serving; raise if the twin crashed while serving a stand-in."""
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._folder, ignore_errors=True)
        if self.crashes:
            raise RuntimeError(f"the twin crashed under the stand-in:\n{self.crashes[0]}")

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
