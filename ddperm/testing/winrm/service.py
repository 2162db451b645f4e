"""The WinRM service: WS-Man shell actions (Create, Command, Send, Receive, Signal,
Delete, Get) mapped onto PSRP shells. Takes and returns SOAP bytes; no HTTP here.
"""

from __future__ import annotations

import base64
import logging
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from typing import Any

from ddperm.testing.winrm import soap
from ddperm.testing.winrm.shell import (
    PipelineRunner,
    ScriptRunner,
    Shell,
    ShellClosed,
    payload_budget,
)
from ddperm.testing.winrm.soap import Request, q

log = logging.getLogger(__name__)
_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
MAX_RECEIVE_WAIT = 5.0
"""Seconds a Receive with nothing to say waits before the timed-out fault."""
DEFAULT_CONFIGURATION = "microsoft.powershell"

SessionOpener = Callable[[str, str], PipelineRunner]
"""(configuration name, user who logged in) -> the runner of a session on a registered
configuration other than the default one; raises ShellRefused when WinRM would refuse."""


class ShellRefused(Exception):
    """WinRM refuses to create the shell (no such configuration, access denied)."""

    def __init__(self, fault: soap.Fault) -> None:
        super().__init__(fault.message)
        self.fault = fault


class WinRMService:
    """The shells of one endpoint, and counts of what it was asked (for tests and benchmarks)."""

    def __init__(self, run: ScriptRunner, open_session: SessionOpener | None = None) -> None:
        self._run = run
        self._open_session = open_session
        self._shells: dict[str, Shell] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()

    def handle(self, request: Request, user: str = "") -> tuple[int, bytes]:
        """Answer one request (from ``user``): HTTP status and SOAP envelope."""
        name = request.action.rsplit("/", 1)[-1]
        with self._lock:
            self.requests[name] += 1
        handler = getattr(self, f"_{name.lower()}", None)
        if handler is None:
            return 500, soap.fault(request, soap.ACTION_NOT_SUPPORTED)
        try:
            if name == "Create":
                return 200, self._create(request, user)
            return 200, handler(request)
        except ShellRefused as refused:
            return 500, soap.fault(request, refused.fault)
        except (KeyError, ShellClosed):
            return 500, soap.fault(request, soap.SHELL_NOT_FOUND, shell=request.shell_id)
        except _TimedOut:
            return 500, soap.fault(request, soap.OPERATION_TIMED_OUT)
        except ValueError as exc:
            return 500, soap.fault(request, soap.INVALID_REQUEST, reason=str(exc))
        except Exception as exc:  # the service boundary: answer, never drop the connection
            log.exception("twin failed on %s", name)
            return 500, soap.fault(request, soap.INTERNAL_ERROR, reason=repr(exc))

    def kill_shells(self) -> int:
        """Drop every shell, as a restarted WinRM service would; returns how many."""
        with self._lock:
            shells, self._shells = list(self._shells.values()), {}
        for shell in shells:
            shell.close()
        return len(shells)

    def shell_count(self) -> int:
        with self._lock:
            return len(self._shells)

    def _shell(self, request: Request) -> Shell:
        with self._lock:
            return self._shells[request.shell_id]

    def _create(self, request: Request, user: str = "") -> bytes:
        element = _find(request.body, "rsp:Shell")
        shell_id = element.get("ShellId", "").upper()
        creation = element.find("{http://schemas.microsoft.com/powershell}creationXml")
        configuration = request.resource_uri.rsplit("/", 1)[-1]
        pipelines = None
        if configuration.lower() != DEFAULT_CONFIGURATION and self._open_session is not None:
            pipelines = self._open_session(configuration, user)
        shell = Shell(shell_id, self._run, pipelines)
        shell.feed(base64.b64decode((creation.text or "") if creation is not None else ""))
        with self._lock:
            self._shells[shell_id] = shell
        created = ET.Element(q("wst", "ResourceCreated"))
        ET.SubElement(created, q("wsa", "Address")).text = soap.ANONYMOUS
        reference = ET.SubElement(created, q("wsa", "ReferenceParameters"))
        ET.SubElement(reference, q("wsman", "ResourceURI")).text = request.resource_uri
        selectors = ET.SubElement(reference, q("wsman", "SelectorSet"))
        ET.SubElement(selectors, q("wsman", "Selector"), {"Name": "ShellId"}).text = shell_id
        return soap.response(request, created, _shell_info(shell_id, request.resource_uri))

    def _command(self, request: Request) -> bytes:
        line = _find(request.body, "rsp:CommandLine")
        command_id = line.get("CommandId", "").upper()
        arguments = line.find("rsp:Arguments", soap.NS)
        data = base64.b64decode(arguments.text or "") if arguments is not None else b""
        self._shell(request).feed(data, command_id, new_command=True)
        answer = ET.Element(q("rsp", "CommandResponse"))
        ET.SubElement(answer, q("rsp", "CommandId")).text = command_id
        return soap.response(request, answer)

    def _send(self, request: Request) -> bytes:
        shell = self._shell(request)
        for stream in _find(request.body, "rsp:Send").findall("rsp:Stream", soap.NS):
            shell.feed(base64.b64decode(stream.text or ""), stream.get("CommandId", "").upper())
        return soap.response(request, ET.Element(q("rsp", "SendResponse")))

    def _receive(self, request: Request) -> bytes:
        desired = _find(request.body, "rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId", "").upper()
        # The pool's own Receive (while opening) is answered at once; a pipeline's waits.
        wait = min(request.operation_timeout, MAX_RECEIVE_WAIT) if command_id else 0.0
        got = self._shell(request).receive(
            command_id, payload_budget(request.max_envelope_size), wait
        )
        if got is None and command_id:
            raise _TimedOut
        answer = ET.Element(q("rsp", "ReceiveResponse"))
        payloads, done = got if got is not None else ([], False)
        target: dict[str, Any] = {"CommandId": command_id} if command_id else {}
        for payload in payloads:
            stream = ET.SubElement(answer, q("rsp", "Stream"), {"Name": "stdout", **target})
            stream.text = base64.b64encode(payload).decode()
        if command_id:
            state = _DONE if done else _RUNNING
            ET.SubElement(answer, q("rsp", "CommandState"), {**target, "State": state})
        return soap.response(request, answer)

    def _signal(self, request: Request) -> bytes:
        signal = _find(request.body, "rsp:Signal")
        self._shell(request).signal(signal.get("CommandId", "").upper())
        return soap.response(request, ET.Element(q("rsp", "SignalResponse")))

    def _delete(self, request: Request) -> bytes:
        with self._lock:
            shell = self._shells.pop(request.shell_id)
        shell.close()
        return soap.response(request)

    def _get(self, request: Request) -> bytes:
        self._shell(request)
        return soap.response(request, _shell_info(request.shell_id, request.resource_uri))


class _TimedOut(Exception):
    """Nothing to say within the operation timeout."""


def _find(body: ET.Element, path: str) -> ET.Element:
    found = body.find(path, soap.NS)
    if found is None:
        raise ValueError(f"request body has no {path}")
    return found


def _shell_info(shell_id: str, resource_uri: str) -> ET.Element:
    shell = ET.Element(q("rsp", "Shell"))
    for name, value in (
        ("ShellId", shell_id),
        ("ResourceUri", resource_uri),
        ("Owner", "ddperm-twin"),
        ("ClientIP", "127.0.0.1"),
        ("IdleTimeOut", "PT7200.000S"),
        ("InputStreams", "stdin pr"),
        ("OutputStreams", "stdout"),
        ("State", "Connected"),
    ):
        ET.SubElement(shell, q("rsp", name)).text = value
    return shell
