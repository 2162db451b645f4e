"""The independent endpoint: HTTP with Basic auth, WinRS shells carrying one PSRP runspace
pool each (psrpcore's server side), and scripts answered by a FakeHost.

A script is known by the SHA-256 of its text (ddperm's manifest) and run synchronously when
its Command arrives, so every Receive finds the answer already queued. Error records go to
the pipeline's error stream and the pipeline completes (PowerShell's non-terminating path;
the twin uses the Failed state instead), so the client's handling of both is exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from psrpcore import (
    CreatePipelineEvent,
    PSRPPayload,
    ServerPipeline,
    ServerRunspacePool,
    StreamType,
)
from psrpcore.types import ErrorCategory, ErrorCategoryInfo, NETException, PSInvocationState

from ddperm.scripts import ScriptRegistry
from ddperm.testing import FakeHost
from ddperm.testing.errors import ErrorRecord
from tests.independent_wsman.soap import NS, SHELL_NOT_FOUND, Request, fault, q, read, response

SHELL = NS["rsp"]
TIMED_OUT = 0x80338029
DONE = f"{SHELL}/CommandState/Done"
RUNNING = f"{SHELL}/CommandState/Running"
_FINISHED = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


@dataclass
class Shell:
    """One WinRS shell: its runspace pool, pipelines by command id, and queued output."""

    pool: ServerRunspacePool
    pipelines: dict[str, ServerPipeline] = field(default_factory=dict)
    outbox: dict[str | None, list[bytes]] = field(default_factory=dict)

    def feed(self, data: bytes, pipeline_id: uuid.UUID | None = None) -> list[Any]:
        """Hand ``data`` to the pool; returns the PSRP events it completed."""
        self.pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
        events = []
        while (event := self.pool.next_event()) is not None:
            events.append(event)
        return events

    def drain(self) -> None:
        """Move what the pool has to say into the outbox of its target (pool or command)."""
        while (payload := self.pool.data_to_send()) is not None:
            target = str(payload.pipeline_id).upper() if payload.pipeline_id else None
            self.outbox.setdefault(target, []).append(payload.data)


class Service:
    """Shells and scripts behind the endpoint."""

    def __init__(self, fake: FakeHost) -> None:
        self.fake = fake
        registry = ScriptRegistry()
        self.scripts = {registry.get(n).sha256: n for n in registry.names()}
        self.shells: dict[str, Shell] = {}
        self.lock = threading.Lock()

    def handle(self, request: Request) -> tuple[int, bytes]:
        action = getattr(self, f"_{request.action.lower()}", None)
        if action is None:
            return 500, fault(request, 0x80338001, f"action {request.action} is not served")
        if request.action != "Create" and request.shell_id not in self.shells:
            return 500, fault(request, SHELL_NOT_FOUND, "the shell was not found on the server")
        with self.lock:
            status, body = action(request)
        return status, body

    def _create(self, request: Request) -> tuple[int, bytes]:
        shell_element = request.body.find("rsp:Shell", NS)
        creation = request.body.findtext(".//ps:creationXml", "", NS)
        if shell_element is None or not creation:
            return 500, fault(request, 0x80338001, "no runspace pool to create")
        shell_id = shell_element.get("ShellId") or str(uuid.uuid4()).upper()
        shell = Shell(ServerRunspacePool())
        shell.feed(base64.b64decode(creation))
        shell.drain()
        self.shells[shell_id] = shell
        created = ET.Element(q("wst:ResourceCreated"))
        ET.SubElement(created, q("wsa:Address")).text = "http://localhost/wsman"
        parameters = ET.SubElement(created, q("wsa:ReferenceParameters"))
        ET.SubElement(parameters, q("wsman:ResourceURI")).text = request.resource_uri
        selectors = ET.SubElement(parameters, q("wsman:SelectorSet"))
        ET.SubElement(selectors, q("wsman:Selector"), Name="ShellId").text = shell_id
        description = ET.Element(q("rsp:Shell"))
        for name, value in [
            ("ShellId", shell_id),
            ("ResourceUri", request.resource_uri),
            ("InputStreams", "stdin pr"),
            ("OutputStreams", "stdout"),
        ]:
            ET.SubElement(description, q(f"rsp:{name}")).text = value
        return 200, response(request, f"{NS['wst']}/CreateResponse", created, description)

    def _command(self, request: Request) -> tuple[int, bytes]:
        shell = self.shells[str(request.shell_id)]
        line = request.body.find("rsp:CommandLine", NS)
        command_id = (line.get("CommandId") if line is not None else None) or str(uuid.uuid4())
        command_id = command_id.upper()
        pipeline = ServerPipeline(shell.pool, uuid.UUID(command_id))
        shell.pipelines[command_id] = pipeline
        arguments = request.body.findtext("rsp:CommandLine/rsp:Arguments", "", NS)
        for event in shell.feed(base64.b64decode(arguments), pipeline.pipeline_id):
            if isinstance(event, CreatePipelineEvent):
                self._run(pipeline)
        shell.drain()
        answer = ET.Element(q("rsp:CommandResponse"))
        ET.SubElement(answer, q("rsp:CommandId")).text = command_id
        return 200, response(request, f"{SHELL}/CommandResponse", answer)

    def _send(self, request: Request) -> tuple[int, bytes]:
        shell = self.shells[str(request.shell_id)]
        for stream in request.body.findall("rsp:Send/rsp:Stream", NS):
            command_id = stream.get("CommandId")
            pipeline = shell.pipelines.get(command_id.upper()) if command_id else None
            target = pipeline.pipeline_id if pipeline else None
            shell.feed(base64.b64decode(stream.text or ""), target)
        shell.drain()
        return 200, response(request, f"{SHELL}/SendResponse", ET.Element(q("rsp:SendResponse")))

    def _receive(self, request: Request) -> tuple[int, bytes]:
        shell = self.shells[str(request.shell_id)]
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        target = command_id.upper() if command_id else None
        queued = shell.outbox.pop(target, [])
        pipeline = shell.pipelines.get(target) if target else None
        finished = pipeline is not None and pipeline.state in _FINISHED
        if not queued and not finished:
            return 500, fault(request, TIMED_OUT, "the WS-Management operation timed out")
        answer = ET.Element(q("rsp:ReceiveResponse"))
        for data in queued:
            stream = ET.SubElement(answer, q("rsp:Stream"), Name="stdout")
            if command_id:
                stream.set("CommandId", command_id)
            stream.text = base64.b64encode(data).decode()
        if command_id:
            state_name = DONE if finished else RUNNING
            state = ET.SubElement(
                answer, q("rsp:CommandState"), CommandId=command_id, State=state_name
            )
            if finished:
                ET.SubElement(state, q("rsp:ExitCode")).text = "0"
        return 200, response(request, f"{SHELL}/ReceiveResponse", answer)

    def _signal(self, request: Request) -> tuple[int, bytes]:
        shell = self.shells[str(request.shell_id)]
        signal = request.body.find("rsp:Signal", NS)
        command_id = (signal.get("CommandId") or "") if signal is not None else ""
        shell.pipelines.pop(command_id.upper(), None)
        shell.outbox.pop(command_id.upper(), None)
        answer = ET.Element(q("rsp:SignalResponse"))
        return 200, response(request, f"{SHELL}/SignalResponse", answer)

    def _delete(self, request: Request) -> tuple[int, bytes]:
        del self.shells[str(request.shell_id)]
        return 200, response(request, f"{NS['wst']}/DeleteResponse")

    def _run(self, pipeline: ServerPipeline) -> None:
        """Run the one script command of ``pipeline`` on the FakeHost."""
        pipeline.start()
        command = pipeline.metadata.commands[0]  # type: ignore[union-attr]
        params = {str(name): _plain(value) for name, value in command.parameters}
        name = self.scripts.get(hashlib.sha256(command.command_text.encode()).hexdigest())
        try:
            if name is None:
                raise ErrorRecord("not a vetted script", "ScriptNotVetted", "SecurityError")
            pipeline.write_output(json.dumps(self.fake.execute(name, params)))
        except ErrorRecord as record:
            exception = NETException(Message=record.message)
            exception.PSObject.type_names.insert(0, record.exception_type)
            pipeline.write_error(
                exception,
                ErrorCategoryInfo(
                    Category=ErrorCategory[record.category], TargetName=record.target
                ),
                fully_qualified_error_id=record.fqid,
            )
        pipeline.complete()


def _plain(value: Any) -> Any:
    """A deserialized PSRP parameter value as plain Python (lists stay lists)."""
    return [_plain(item) for item in value] if isinstance(value, list) else value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.server.allows(self.headers.get("Authorization", "")):
            self._answer(401, b"", [("WWW-Authenticate", 'Basic realm="WSMAN"')])
            return
        try:
            request = read(body)
        except (ET.ParseError, ValueError):
            self._answer(400, b"", [])
            return
        status, answer = self.server.service.handle(request)
        self._answer(status, answer, [("Content-Type", "application/soap+xml;charset=UTF-8")])

    def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: Service, username: str, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.service = service
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def allows(self, authorization: str) -> bool:
        return hmac.compare_digest(authorization.encode(), self._basic.encode())


@dataclass(frozen=True)
class Independent:
    """A running independent endpoint and the ``ddperm.connect`` options that reach it."""

    service: Service
    port: int
    username: str = "indie"
    password: str = "Indie-Passw0rd"

    def connect_options(self) -> dict[str, Any]:
        return {
            "server": "127.0.0.1",
            "port": self.port,
            "ssl": False,
            "auth": "basic",
            "encryption": "never",
            "username": self.username,
            "password": self.password,
        }


@contextmanager
def serve(fake: FakeHost) -> Iterator[Independent]:
    """Serve ``fake`` on an ephemeral port of 127.0.0.1 until the block ends."""
    endpoint = Independent(Service(fake), 0)
    server = _Server(endpoint.service, endpoint.username, endpoint.password)
    thread = threading.Thread(target=server.serve_forever, name="independent-wsman", daemon=True)
    thread.start()
    try:
        yield Independent(endpoint.service, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
