"""The PSRP layer: one WinRM shell is one psrpcore server runspace pool.

A shell takes raw PSRP fragments (from Create, Command and Send requests), turns
each finished create-pipeline message into one call of ``run(script_text, params)``
and queues the answer as PSRP fragments for the Receive requests to collect.
It knows nothing about SOAP, HTTP or the FakeHost.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psrpcore
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PipelineState,
    PSInvocationState,
)

from ddperm.testing.errors import ErrorRecord as TwinErrorRecord

ScriptRunner = Callable[[str, dict[str, Any]], str]
"""Runs one script text with bound parameters; returns its output or raises ErrorRecord."""


@dataclass(frozen=True)
class PipelineCommand:
    """One command of a pipeline as the client sent it: script text or a command name."""

    text: str
    is_script: bool
    parameters: tuple[tuple[str | None, Any], ...]


PipelineRunner = Callable[[list[PipelineCommand]], str]
"""Runs a whole pipeline (a restricted session's view); returns its output or raises ErrorRecord."""

_FINISHED = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)
MIN_ENVELOPE = 153_600
_STREAM_OVERHEAD = 2048  # room for the SOAP envelope around a Receive's streams


def payload_budget(max_envelope_size: int) -> int:
    """Raw PSRP bytes that fit base64-encoded into one envelope of that size."""
    return max(22, (max_envelope_size - _STREAM_OVERHEAD) // 4 * 3)


class ShellClosed(Exception):
    """The shell was deleted (or killed) while a request waited on it."""


class Shell:
    """A runspace pool on the server side, fed by WS-Man requests."""

    def __init__(
        self, shell_id: str, run: ScriptRunner, pipelines: PipelineRunner | None = None
    ) -> None:
        self.shell_id = shell_id
        self._run = run
        self._pipelines_runner = pipelines  # a JEA session: every pipeline goes here
        self._pool = psrpcore.ServerRunspacePool()
        self._pipelines: dict[str, psrpcore.ServerPipeline] = {}
        self._queued: dict[str, list[bytes]] = {}  # "" is the pool, else a command id
        self._changed = threading.Condition()
        self.closed = False

    def feed(self, data: bytes, command_id: str = "", *, new_command: bool = False) -> None:
        """Take PSRP fragments for the pool or a command; run any pipeline they complete."""
        with self._changed:
            self._check_open()
            pipeline_id = uuid.UUID(command_id) if command_id else None
            if new_command and pipeline_id is not None:
                self._pipelines[command_id] = psrpcore.ServerPipeline(self._pool, pipeline_id)
            self._pool.receive_data(
                psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pipeline_id)
            )
            while (event := self._pool.next_event()) is not None:
                if isinstance(event, psrpcore.CreatePipelineEvent):
                    self._start(self._pool.pipeline_table[event.pipeline_id])
            self._drain()
            self._changed.notify_all()

    def receive(self, command_id: str, limit: int, wait: float) -> tuple[list[bytes], bool] | None:
        """Queued payloads (up to ``limit`` raw bytes) and whether the command is done.

        Waits up to ``wait`` seconds for something to say; None when nothing came.
        """
        with self._changed:
            self._changed.wait_for(
                lambda: self.closed or bool(self._queued.get(command_id)), timeout=wait
            )
            self._check_open()
            queue = self._queued.get(command_id, [])
            taken: list[bytes] = []
            while queue and (not taken or sum(map(len, taken)) + len(queue[0]) <= limit):
                taken.append(queue.pop(0))
            if not taken:
                return None
            return taken, not queue and self._finished(command_id)

    def signal(self, command_id: str) -> None:
        """Terminate a command: forget it and whatever it had left to say."""
        with self._changed:
            self._check_open()
            pipeline = self._pipelines.pop(command_id, None)
            self._queued.pop(command_id, None)
            if pipeline is not None:
                self._pool.pipeline_table.pop(pipeline.pipeline_id, None)

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def _check_open(self) -> None:
        if self.closed:
            raise ShellClosed(self.shell_id)

    def _finished(self, command_id: str) -> bool:
        pipeline = self._pipelines.get(command_id)
        return pipeline is not None and pipeline.state in _FINISHED

    def _drain(self) -> None:
        """Move everything psrpcore has to send into per-target queues.

        Payloads are cut for the smallest envelope a client starts with (pypsrp's
        153600 bytes); a Receive then packs as many as its own envelope allows.
        """
        while (payload := self._pool.data_to_send(payload_budget(MIN_ENVELOPE))) is not None:
            target = str(payload.pipeline_id).upper() if payload.pipeline_id else ""
            self._queued.setdefault(target, []).append(payload.data)

    def _start(self, pipeline: psrpcore.ServerPipeline) -> None:
        pipeline.start()
        try:
            if self._pipelines_runner is not None:
                output = self._pipelines_runner(pipeline_commands(pipeline))
            else:
                text, params = _one_script(pipeline)
                output = self._run(text, params)
        except TwinErrorRecord as record:
            _fail(pipeline, record)
        else:
            pipeline.write_output(output)
            pipeline.complete()


def _one_script(pipeline: psrpcore.ServerPipeline) -> tuple[str, dict[str, Any]]:
    """Script text and named parameters of a one-command pipeline (all ddperm sends)."""
    commands = pipeline.metadata.commands if pipeline.metadata is not None else []
    if len(commands) != 1 or not commands[0].is_script:
        raise not_a_vetted_script()
    command = commands[0]
    params: dict[str, Any] = {}
    for name, value in command.parameters:
        if name is None:
            raise not_a_vetted_script()
        params[str(name)] = plain(value)
    return str(command.command_text), params


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


def not_a_vetted_script() -> TwinErrorRecord:
    """What a restricted (no-language) endpoint says to text it will not run."""
    return TwinErrorRecord(
        "The syntax is not supported by this runspace. This can occur if the runspace is in "
        "no-language mode.",
        "ScriptsNotAllowed",
        "ParserError",
        "",
        "System.Management.Automation.PSInvalidOperationException",
    )


def _fail(pipeline: psrpcore.ServerPipeline, record: TwinErrorRecord) -> None:
    """End the pipeline in the Failed state carrying ``record`` (psrpcore has no public call)."""
    exception = NETException(Message=record.message, HResult=-2146233087)
    exception.PSObject.type_names = [record.exception_type, "System.Exception", "System.Object"]
    category = ErrorCategory[record.category]
    error = ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(
            Category=category,
            Reason=record.exception_type.rsplit(".", 1)[-1],
            TargetName=record.target,
            TargetType="String" if record.target else "",
        ),
        TargetObject=record.target or None,
        FullyQualifiedErrorId=record.fqid,
    )
    pipeline.prepare_message(
        PipelineState(PipelineState=int(PSInvocationState.Failed), ExceptionAsErrorRecord=error)
    )
    pipeline.state = PSInvocationState.Failed
