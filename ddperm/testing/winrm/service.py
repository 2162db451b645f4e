"""The WinRM service: WS-Man actions (Create, Command, Send, Receive, Signal, Delete, Get,
Identify) on the resources of its catalog: PowerShell session configurations (PSRP
shells), the cmd shell (WinRS) and its own configuration. Takes and returns SOAP bytes;
no HTTP here.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from typing import Any

from ddperm.testing.winrm import soap
from ddperm.testing.winrm.config import CONFIG, POWERSHELL_PREFIX, WinRMConfig
from ddperm.testing.winrm.outbox import Received, ShellClosed
from ddperm.testing.winrm.shell import (
    PipelineRunner,
    PowerShellShell,
    ScriptHost,
    payload_budget,
)
from ddperm.testing.winrm.soap import Request, WSManFault, q
from ddperm.testing.winrm.winrs import CommandShell

log = logging.getLogger(__name__)
_STATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
Shell = PowerShellShell | CommandShell
SessionOpener = Callable[[str, str], PipelineRunner | None]
"""(configuration name, user who logged in) -> the runner of a session on a configuration
the host registered besides the catalog's own (a JEA endpoint), None when there is no such
configuration; raises WSManFault when WinRM refuses the user."""


class WinRMService:
    """The shells of one endpoint, and counts of what it was asked (for tests and benchmarks)."""

    def __init__(
        self,
        host: ScriptHost,
        config: WinRMConfig | None = None,
        open_session: SessionOpener | None = None,
    ) -> None:
        self._host = host
        self._open_session = open_session
        self.config = config if config is not None else WinRMConfig()
        self._shells: dict[str, Shell] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.scopes: Counter[str] = Counter()
        """Pipelines run in a local scope ("local") or in the pool's global one ("global")."""

    def handle(
        self, request: Request, *, script_delay: float = 0.0, user: str = ""
    ) -> tuple[int, bytes]:
        """Answer one request (from ``user``): HTTP status and SOAP envelope.

        ``script_delay`` holds back the pipeline a Command starts (a slow script).
        """
        with self._lock:
            self.requests[request.name] += 1
        handler = getattr(self, f"_{request.name.lower()}", None)
        try:
            request.operation_timeout  # noqa: B018 (a malformed header faults every action)
            if handler is None:
                raise WSManFault(soap.ACTION_NOT_SUPPORTED)
            if request.name == "Command":
                return 200, self._command(request, script_delay)
            if request.name == "Create":
                return 200, self._create(request, user)
            return 200, handler(request)
        except WSManFault as fault:
            return 500, soap.fault(request, fault.fault, **fault.details)
        except (KeyError, ShellClosed):
            return 500, soap.fault(request, soap.SHELL_NOT_FOUND, shell=request.shell_id)
        except ValueError:
            return 500, soap.fault(request, soap.INVALID_REQUEST)
        except Exception:  # the service boundary: answer, never drop the connection
            log.exception("twin failed on %s", request.name)
            return 500, soap.fault(request, soap.INTERNAL_ERROR)

    def identify(self, authenticated: bool) -> bytes:
        """The IdentifyResponse; the OS version only for an authenticated caller."""
        os_version = self._host.os_version if authenticated else "0.0.0"
        with self._lock:
            self.requests["Identify"] += 1
        version = f"OS: {os_version} SP: 0.0 Stack: 3.0"
        return soap.identify_response("Microsoft Corporation", version)

    def kill_shells(self) -> int:
        """Drop every shell, as a restarted WinRM service would; returns how many."""
        with self._lock:
            shells, self._shells = list(self._shells.values()), {}
        for shell in shells:
            shell.close()
        return len(shells)

    def _count_scope(self, scope: str) -> None:
        with self._lock:
            self.scopes[scope] += 1

    def shell_count(self) -> int:
        with self._lock:
            return len(self._shells)

    def _shell(self, request: Request) -> Shell:
        with self._lock:
            return self._shells[request.shell_id]

    def _create(self, request: Request, user: str = "") -> bytes:
        kind = self.config.shell_kind(request.resource_uri)
        pipelines = None
        uri = request.resource_uri
        opener = self._open_session
        if kind is None and opener is not None and uri.lower().startswith(POWERSHELL_PREFIX):
            pipelines = opener(uri[len(POWERSHELL_PREFIX) :], user)
            kind = "psrp" if pipelines is not None else None
        if kind is None:
            raise WSManFault(soap.RESOURCE_NOT_FOUND, uri=request.resource_uri)
        element = _find(request.body, "rsp:Shell")
        shell_id = (element.get("ShellId") or str(uuid.uuid4())).upper()
        shell: Shell
        if kind == "cmd":
            shell = CommandShell(shell_id)
        else:
            shell = PowerShellShell(shell_id, self._host, self._count_scope, pipelines)
            creation = element.find("{http://schemas.microsoft.com/powershell}creationXml")
            shell.feed(base64.b64decode((creation.text or "") if creation is not None else ""))
        with self._lock:
            self._shells[shell_id] = shell
        created = ET.Element(q("wst", "ResourceCreated"))
        ET.SubElement(created, q("wsa", "Address")).text = soap.ANONYMOUS
        reference = ET.SubElement(created, q("wsa", "ReferenceParameters"))
        ET.SubElement(reference, q("wsman", "ResourceURI")).text = request.resource_uri
        selectors = ET.SubElement(reference, q("wsman", "SelectorSet"))
        ET.SubElement(selectors, q("wsman", "Selector"), {"Name": "ShellId"}).text = shell_id
        streams = (_text(element, "rsp:InputStreams"), _text(element, "rsp:OutputStreams"))
        return soap.response(request, created, _shell_info(shell_id, request, *streams))

    def _command(self, request: Request, script_delay: float) -> bytes:
        shell = self._shell(request)
        line = _find(request.body, "rsp:CommandLine")
        command_id = (line.get("CommandId") or str(uuid.uuid4())).upper()
        shell.new_command(command_id)
        if isinstance(shell, PowerShellShell):
            arguments = line.find("rsp:Arguments", soap.NS)
            data = base64.b64decode(arguments.text or "") if arguments is not None else b""
            shell.feed(data, command_id, delay=script_delay)
        answer = ET.Element(q("rsp", "CommandResponse"))
        ET.SubElement(answer, q("rsp", "CommandId")).text = command_id
        return soap.response(request, answer)

    def _send(self, request: Request) -> bytes:
        shell = self._shell(request)
        for stream in _find(request.body, "rsp:Send").findall("rsp:Stream", soap.NS):
            shell.feed(base64.b64decode(stream.text or ""), stream.get("CommandId", "").upper())
        return soap.response(request, ET.Element(q("rsp", "SendResponse")))

    def _receive(self, request: Request) -> bytes:
        shell = self._shell(request)
        desired = _find(request.body, "rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId", "").upper()
        wait = min(request.operation_timeout, self.config.max_timeout_ms / 1000)
        got = shell.receive(command_id, payload_budget(request.max_envelope_size), wait)
        if got is None:
            raise WSManFault(soap.OPERATION_TIMED_OUT)
        answer = ET.Element(q("rsp", "ReceiveResponse"))
        target: dict[str, Any] = {"CommandId": command_id} if command_id else {}
        for name, data in got.chunks:
            stream = ET.SubElement(answer, q("rsp", "Stream"), {"Name": name, **target})
            stream.text = base64.b64encode(data).decode()
        if command_id:
            winrs = isinstance(shell, CommandShell)
            _command_state(answer, got, target, desired.text or "", winrs=winrs)
        return soap.response(request, answer)

    def _signal(self, request: Request) -> bytes:
        signal = _find(request.body, "rsp:Signal")
        code = _text(signal, "rsp:Code")
        self._shell(request).signal(signal.get("CommandId", "").upper(), code)
        return soap.response(request, ET.Element(q("rsp", "SignalResponse")))

    def _delete(self, request: Request) -> bytes:
        with self._lock:
            shell = self._shells.pop(request.shell_id)
        shell.close()
        return soap.response(request)

    def _get(self, request: Request) -> bytes:
        if request.resource_uri.lower() == CONFIG:
            return soap.response(request, self.config.element())
        with self._lock:
            shell = self._shells.get(request.shell_id)
        if shell is None:
            raise WSManFault(soap.INVALID_SELECTORS)
        return soap.response(request, _shell_info(shell.shell_id, request, "stdin pr", "stdout"))


def _find(body: ET.Element, path: str) -> ET.Element:
    found = body.find(path, soap.NS)
    if found is None:
        raise ValueError(f"request body has no {path}")
    return found


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path, soap.NS)
    return (found.text or "").strip() if found is not None else ""


def _command_state(
    answer: ET.Element, got: Received, target: dict[str, Any], desired: str, *, winrs: bool
) -> None:
    """End-of-stream markers (WinRS) and the command's state, with its exit code once done."""
    if got.done and winrs:
        for name in desired.split():
            ET.SubElement(answer, q("rsp", "Stream"), {"Name": name, **target, "End": "true"})
    state = _STATE + ("Done" if got.done else "Running")
    element = ET.SubElement(answer, q("rsp", "CommandState"), {**target, "State": state})
    if got.done:
        ET.SubElement(element, q("rsp", "ExitCode")).text = str(got.exit_code or 0)


def _shell_info(shell_id: str, request: Request, inputs: str, outputs: str) -> ET.Element:
    shell = ET.Element(q("rsp", "Shell"))
    for name, value in (
        ("ShellId", shell_id),
        ("ResourceUri", request.resource_uri),
        ("Owner", "ddperm-twin"),
        ("ClientIP", "127.0.0.1"),
        ("IdleTimeOut", "PT7200.000S"),
        ("InputStreams", inputs or "stdin"),
        ("OutputStreams", outputs or "stdout stderr"),
        ("State", "Connected"),
    ):
        ET.SubElement(shell, q("rsp", name)).text = value
    return shell
