"""The PSRP layer: one WinRM shell is one psrpcore server runspace pool.

A shell takes raw PSRP fragments (from Create, Command and Send requests). Each
finished create-pipeline message starts one call of the host's ``run(script_text,
params)`` in the background, at most ``max_runspaces`` at a time, and its answer is
queued as PSRP fragments for the Receive requests to collect. Pool calls (available
runspaces, min/max runspaces, reset, command metadata) are answered as Windows does.
It knows nothing about SOAP, HTTP or the FakeHost.
"""

from __future__ import annotations

import functools
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import psrpcore
from psrpcore.types import PSCustomObject, PSInvocationState, PSRPMessageType, PSVersion

from ddperm.testing.errors import ErrorRecord as TwinErrorRecord
from ddperm.testing.errors import scripts_not_allowed
from ddperm.testing.winrm import soap
from ddperm.testing.winrm.outbox import Outbox, Received
from ddperm.testing.winrm.records import error_record
from ddperm.testing.winrm.soap import WSManFault

STOP = "powershell/signal/crtl_c"
"""The one stop code, compared ordinally (MS-PSRP 3.1.5.3.9; PowerShell's WSManPlugin.cs
PerformWSManPluginSignal). Any other code closes the command."""
MIN_ENVELOPE = 153_600
_STREAM_OVERHEAD = 2048  # room for the SOAP envelope around a Receive's streams
_FINISHED = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


class ScriptHost(Protocol):
    """What a shell runs scripts on (the bridge to the model)."""

    def __call__(self, text: str, params: dict[str, Any]) -> str:
        """Run one script text with bound parameters; its output, or raise ErrorRecord."""

    @property
    def powershell_version(self) -> str:
        """$PSVersionTable.PSVersion, e.g. "5.1.22621.2506"."""

    @property
    def os_version(self) -> str:
        """The Windows version Identify reports, e.g. "10.0.22631"."""


@dataclass(frozen=True)
class PipelineCommand:
    """One command of a pipeline as the client sent it: script text or a command name."""

    text: str
    is_script: bool
    parameters: tuple[tuple[str | None, Any], ...]


PipelineRunner = Callable[[list[PipelineCommand]], str]
"""Runs a whole pipeline in a restricted (JEA) session; its output, or raise ErrorRecord."""


def payload_budget(max_envelope_size: int) -> int:
    """Raw PSRP bytes that fit base64-encoded into one envelope of that size."""
    return max(22, (max_envelope_size - _STREAM_OVERHEAD) // 4 * 3)


def version_table(powershell_version: str) -> dict[str, Any]:
    """The PSVersionTable Windows PowerShell 5.1 sends in APPLICATION_PRIVATE_DATA."""
    build = powershell_version.split(".", 2)[2]
    return {
        "PSVersion": PSVersion(powershell_version),
        "PSEdition": "Desktop",
        "PSCompatibleVersions": [
            PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", powershell_version)
        ],
        "CLRVersion": PSVersion("4.0.30319.42000"),
        "BuildVersion": PSVersion(f"10.0.{build}"),
        "WSManStackVersion": PSVersion("3.0"),
        "PSRemotingProtocolVersion": PSVersion("2.3"),
        "SerializationVersion": PSVersion("1.1.0.1"),
    }


class PowerShellShell:
    """A runspace pool on the server side, fed by WS-Man requests."""

    def __init__(
        self,
        shell_id: str,
        host: ScriptHost,
        on_scope: Callable[[str], None] = lambda _: None,
        pipelines: PipelineRunner | None = None,
    ) -> None:
        self.shell_id = shell_id
        self.outbox = Outbox()
        self._host = host
        self._on_scope = on_scope
        self._pipelines = pipelines  # a JEA session: every pipeline goes there
        private = {"PSVersionTable": version_table(host.powershell_version)}
        self._pool = psrpcore.ServerRunspacePool(application_private_data=private)
        self._holding: set[uuid.UUID] = set()  # pipelines that hold a runspace now

    def feed(self, data: bytes, command_id: str = "", *, delay: float = 0.0) -> None:
        """Take PSRP fragments for the pool or a command; act on the messages they complete.

        ``delay`` holds back a pipeline this data creates (a slow script, for tests).
        """
        if command_id and not self.outbox.knows(command_id):
            raise WSManFault(soap.COMMAND_NOT_FOUND)
        if not command_id:
            # PowerShell reads message properties case-insensitively; pypsrp 0.9 sends "CI".
            data = data.replace(b'N="CI"', b'N="ci"')
        with self.outbox.changed:
            pipeline_id = uuid.UUID(command_id) if command_id else None
            self._pool.receive_data(
                psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pipeline_id)
            )
            while (event := self._pool.next_event()) is not None:
                self._on(event, delay)
            self._drain()

    def new_command(self, command_id: str) -> None:
        with self.outbox.changed:
            psrpcore.ServerPipeline(self._pool, uuid.UUID(command_id))
            self.outbox.open(command_id)

    def receive(self, command_id: str, limit: int, wait: float) -> Received | None:
        return self.outbox.take(command_id, limit, wait)

    def signal(self, command_id: str, code: str) -> None:
        """Stop a pipeline on the exact STOP code (it ends Stopped); any other code, to a
        command, closes it (it is forgotten); to the pool, nothing happens."""
        if not self.outbox.knows(command_id):
            raise WSManFault(soap.COMMAND_NOT_FOUND)
        if not command_id:
            return
        with self.outbox.changed:
            pipeline = self._pool.pipeline_table.get(uuid.UUID(command_id))
            if code == STOP:
                if pipeline is not None and pipeline.state == PSInvocationState.Running:
                    pipeline.stop()
                    self._holding.discard(pipeline.pipeline_id)
                    self._drain()
                    self.outbox.changed.notify_all()
                return
            if pipeline is not None:
                self._pool.pipeline_table.pop(pipeline.pipeline_id, None)
                pipeline.state = PSInvocationState.Stopped
                self._holding.discard(pipeline.pipeline_id)  # its runspace is free at once
            self.outbox.forget(command_id)
            self.outbox.changed.notify_all()

    def close(self) -> None:
        self.outbox.close()

    def _on(self, event: object, delay: float) -> None:
        pool = self._pool
        if isinstance(event, psrpcore.CreatePipelineEvent):
            self._start(pool.pipeline_table[event.pipeline_id], delay)
        elif isinstance(event, psrpcore.GetCommandMetadataEvent):
            self._no_metadata(pool.pipeline_table[event.pipeline_id])
        elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            pool.runspace_availability_response(event.ci, pool.max_runspaces - len(self._holding))
        elif isinstance(event, psrpcore.SetMaxRunspacesEvent):
            ok = event.count >= max(1, pool.min_runspaces)
            pool.runspace_availability_response(event.ci, ok)
        elif isinstance(event, psrpcore.SetMinRunspacesEvent):
            pool.runspace_availability_response(event.ci, 1 <= event.count <= pool.max_runspaces)
        elif isinstance(event, psrpcore.ResetRunspaceStateEvent):
            pool.runspace_availability_response(event.ci, True)

    def _drain(self) -> None:
        """Move everything psrpcore has to send into the outbox; finish ended pipelines.

        Payloads are cut for the smallest envelope a client starts with (pypsrp's
        153600 bytes); a Receive then packs as many as its own envelope allows.
        """
        while (payload := self._pool.data_to_send(payload_budget(MIN_ENVELOPE))) is not None:
            target = str(payload.pipeline_id).upper() if payload.pipeline_id else ""
            for fragment, kind in _fragments(payload.data):
                if kind == PSRPMessageType.RunspacePoolState:
                    self.outbox.end_answer(target)  # Windows sends the pool state apart
                self.outbox.put(target, "stdout", fragment)  # one per rsp:Stream, as Windows
        for pipeline_id, pipeline in list(self._pool.pipeline_table.items()):
            if pipeline.state in _FINISHED:
                self.outbox.finish(str(pipeline_id).upper())
                del self._pool.pipeline_table[pipeline_id]

    def _start(self, pipeline: psrpcore.ServerPipeline, delay: float) -> None:
        pipeline.state = PSInvocationState.Running  # Windows sends only the final state
        if self._pipelines is not None:
            commands = pipeline_commands(pipeline)
            text = commands[0].text if commands else ""
            run: Callable[[], str] = functools.partial(self._pipelines, commands)
        else:
            try:
                text, params, local_scope = _one_script(pipeline)
            except TwinErrorRecord as record:
                _fail(pipeline, record, "")
                return
            # Without UseLocalScope, PowerShell runs a script in the runspace's global scope
            # (Command.CreateCommandProcessor: "_useLocalScope ?? false"): what it defines
            # stays in the pool for every later pipeline. Reported so tests can see it.
            self._on_scope("local" if local_scope else "global")
            run = functools.partial(self._host, text, params)
        threading.Thread(
            target=self._execute,
            args=(pipeline, text, run, delay),
            name=f"ddperm-twin-pipeline-{pipeline.pipeline_id}",
            daemon=True,
        ).start()

    def _execute(
        self, pipeline: psrpcore.ServerPipeline, text: str, run: Callable[[], str], delay: float
    ) -> None:
        """Run one pipeline on a free runspace; its answer goes to the outbox."""
        changed = self.outbox.changed

        def gone() -> bool:
            return self.outbox.closed or pipeline.state != PSInvocationState.Running

        with changed:
            changed.wait_for(lambda: gone() or len(self._holding) < self._pool.max_runspaces)
            if gone():
                return
            self._holding.add(pipeline.pipeline_id)
            changed.wait_for(gone, timeout=delay)
        try:
            output: str | TwinErrorRecord = run() if not gone() else ""
        except TwinErrorRecord as record:
            output = record
        with changed:
            self._holding.discard(pipeline.pipeline_id)
            if not gone():
                if isinstance(output, TwinErrorRecord):
                    _fail(pipeline, output, text)
                else:
                    pipeline.write_output(output)
                    pipeline.complete()
                self._drain()
            changed.notify_all()

    def _no_metadata(self, pipeline: psrpcore.ServerPipeline) -> None:
        """Answer GET_COMMAND_METADATA: this endpoint exposes no commands (count 0)."""
        pipeline.state = PSInvocationState.Running
        count = PSCustomObject(Count=0)
        count.PSObject.type_names = [
            "Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",
            "System.Management.Automation.PSCustomObject",
            "System.Object",
        ]
        pipeline.write_output(count)
        pipeline.complete()


_FRAGMENT_HEADER = struct.Struct(">QQBI")
"""MS-PSRP 2.2.4 fragment header: ObjectId, FragmentId, flags (1: start, 2: end), length."""


def _fragments(data: bytes) -> Iterator[tuple[bytes, int | None]]:
    """Each PSRP fragment of ``data`` and the message type it starts (None: a later part)."""
    offset = 0
    while offset < len(data):
        _, _, flags, length = _FRAGMENT_HEADER.unpack_from(data, offset)
        blob = offset + _FRAGMENT_HEADER.size
        # MS-PSRP 2.2.1: a message starts with Destination, then MessageType (both LE 32-bit)
        kind = int.from_bytes(data[blob + 4 : blob + 8], "little") if flags & 1 else None
        yield data[offset : blob + length], kind
        offset = blob + length


def _one_script(pipeline: psrpcore.ServerPipeline) -> tuple[str, dict[str, Any], bool]:
    """Script text, named parameters and UseLocalScope of a one-command pipeline (all
    ddperm sends)."""
    commands = pipeline.metadata.commands if pipeline.metadata is not None else []
    text = str(commands[0].command_text) if commands else ""
    if len(commands) != 1 or not commands[0].is_script:
        raise scripts_not_allowed(text)
    command = commands[0]
    params: dict[str, Any] = {}
    for name, value in command.parameters:
        if name is None:
            raise scripts_not_allowed(text)
        params[str(name)] = plain(value)
    return text, params, command.use_local_scope is True


def pipeline_commands(pipeline: psrpcore.ServerPipeline) -> list[PipelineCommand]:
    """Every command of a pipeline, parameter values as plain Python."""
    commands = pipeline.metadata.commands if pipeline.metadata is not None else []
    return [
        PipelineCommand(
            str(c.command_text),
            bool(c.is_script),
            tuple((None if n is None else str(n), plain(v)) for n, v in c.parameters),
        )
        for c in commands
    ]


def plain(value: Any) -> Any:
    """A deserialized PSRP value as plain Python (str, int, bool, None, lists of them)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _fail(pipeline: psrpcore.ServerPipeline, record: TwinErrorRecord, script: str) -> None:
    """End the pipeline in the Failed state carrying ``record`` (psrpcore has no public call)."""
    pipeline.prepare_message(
        psrpcore.types.PipelineState(
            PipelineState=int(PSInvocationState.Failed),
            ExceptionAsErrorRecord=error_record(record, script),
        )
    )
    pipeline.state = PSInvocationState.Failed
