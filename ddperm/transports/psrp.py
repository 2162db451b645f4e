"""The PSRP runner: vetted scripts over WinRM with pypsrp's stable (0.9) API.

One runspace pool per runner, opened on first use and reused by every call; calls
are serialized on it (thread-safe) and a dead pool is reopened on the next call.
Parameters travel as PSRP parameters (typed CLIXML), never in the script text. Each
script runs in its own local scope, so nothing it defines outlives the call in the pool.
"""

from __future__ import annotations

import logging
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import requests
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import WinRMError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import TaggedValue
from pypsrp.wsman import NAMESPACES, WSMan, WSManAction

from ddperm.errors import ConfigurationError, HostError, OutputError, TransportError
from ddperm.host import Host
from ddperm.jea.module import CONFIGURATION_NAME as JEA_CONFIGURATION
from ddperm.jea.module import function_for
from ddperm.retry import RetryPolicy
from ddperm.runner import Params, ParamValue
from ddperm.scripts import Script
from ddperm.transports.resealing import ResealingTransport
from ddperm.transports.settings import check_options, check_server
from ddperm.transports.wire_errors import Wire, translate
from ddperm.transports.wire_log import install as install_wire_log_filter

log = logging.getLogger(__name__)
install_wire_log_filter()  # pypsrp, spnego, urllib3 DEBUG records only with DDPERM_LOG_WIRE=1

SHELL_NOT_FOUND = 0x8033805B
"""The shell (runspace pool) is gone, e.g. the WinRM service restarted: nothing ran."""

# System.Management.Automation.ErrorCategory, by value.
ERROR_CATEGORIES = (
    "NotSpecified",
    "OpenError",
    "CloseError",
    "DeviceError",
    "DeadlockDetected",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "InvalidResult",
    "InvalidType",
    "MetadataError",
    "NotImplemented",
    "NotInstalled",
    "ObjectNotFound",
    "OperationStopped",
    "OperationTimeout",
    "SyntaxError",
    "ParserError",
    "PermissionDenied",
    "ResourceBusy",
    "ResourceExists",
    "ResourceUnavailable",
    "ReadError",
    "WriteError",
    "FromStdErr",
    "SecurityError",
    "ProtocolError",
    "ConnectionError",
    "AuthenticationError",
    "LimitsExceeded",
    "QuotaExceeded",
    "NotEnabled",
)
_INT32 = range(-(2**31), 2**31)


class _WSMan(WSMan):
    """pypsrp's WSMan without its silent re-sends of a timed-out Receive, and with a
    transport that seals a message again for a new connection (``resealing``).

    pypsrp re-sends a Receive up to five times with growing sleeps (about two
    minutes with the defaults); ddperm's retry policy decides instead, so a
    stalled host surfaces as TransportError within the policy's deadline.
    """

    def __init__(self, server: str, **options: Any) -> None:
        super().__init__(server, **options)
        self.transport = ResealingTransport(server, **options)

    def receive(
        self,
        resource_uri: str,
        resource: ET.Element,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
    ) -> ET.Element:
        response = self.invoke(
            WSManAction.RECEIVE, resource_uri, resource, option_set, selector_set, timeout
        )
        body = response.find("s:Body", namespaces=NAMESPACES)
        if body is None:
            raise WinRMError("the Receive response has no SOAP body")
        return body


class _ShellGone(Exception):
    """The pool's shell no longer exists; the command was not created."""


class PSRPRunner:
    """Runs vetted scripts on one Windows host over PowerShell Remoting.

    ``wsman_options`` go to ``pypsrp.wsman.WSMan`` unchanged (``port``, ``ssl``,
    ``auth``, ``username``, ``password``, ``cert_validation``, ``encryption``,
    ``operation_timeout``, ``connection_timeout``, ``read_timeout``, and the
    options of certificate, CredSSP and Negotiate auth). With ``jea`` the runner calls
    the JEA endpoint's function for each script by name (a PSRP command, not script
    text), since a NoLanguage session refuses script text.
    """

    def __init__(
        self,
        server: str,
        *,
        configuration_name: str = "Microsoft.PowerShell",
        jea: bool = False,
        **wsman_options: Any,
    ) -> None:
        self.server = server
        self.configuration_name = configuration_name
        self.jea = jea
        self._wsman_options = wsman_options
        ssl = bool(wsman_options.get("ssl", True))
        self._wire = Wire(
            server=server,
            port=wsman_options.get("port") or (5986 if ssl else 5985),
            ssl=ssl,
            auth=str(wsman_options.get("auth", "negotiate")),
            username=wsman_options.get("username"),
            has_password=wsman_options.get("password") is not None,
        )
        self._lock = threading.Lock()
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None
        self.pool_opens = 0
        """How many runspace pools this runner has opened (1 while nothing fails)."""

    def run(self, script: Script, params: Params) -> str:
        with self._lock:
            try:
                return self._run_once(script, params)
            except _ShellGone:
                log.info("runspace pool on %s is gone; reopening", self.server)
                self._discard()
            try:
                return self._run_once(script, params)
            except _ShellGone as exc:
                self._discard()
                raise TransportError(f"{self.server}: the runspace pool vanished twice") from exc

    def close(self) -> None:
        """Close the runspace pool (best effort) and the HTTP session."""
        with self._lock:
            pool, wsman = self._pool, self._wsman
            self._pool = self._wsman = None
            try:
                if pool is not None:
                    pool.close()
            except (WinRMError, requests.RequestException, ET.ParseError) as exc:
                log.info("closing the runspace pool on %s failed: %s", self.server, exc)
            finally:
                if wsman is not None:
                    wsman.close()

    def _run_once(self, script: Script, params: Params) -> str:
        wire = {name: to_wire(value) for name, value in params.items()}
        command = function_for(script.name) if self.jea else None
        try:
            pool = self._open_pool()
            ps = PowerShell(pool)
            if command is not None:
                ps.add_cmdlet(command)  # IsScript=false: the one form NoLanguage accepts
            else:
                # A local scope: otherwise the script runs in the pooled runspace's global
                # scope and its functions, variables and preferences stay there for the next call.
                ps.add_script(script.text, use_local_scope=True)
            for name, value in wire.items():
                ps.add_parameter(name, value)
            try:
                ps.begin_invoke()
            except WSManFaultError as exc:
                if exc.code == SHELL_NOT_FOUND:
                    raise _ShellGone from exc
                raise
            ps.end_invoke()
            self._release(ps)
        except _ShellGone:
            raise
        except Exception as exc:
            self._discard()
            mapped = translate(self._wire, exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return single_output(script.name, ps)

    def _open_pool(self) -> RunspacePool:
        if self._pool is None:
            if self._wsman is None:
                self._wsman = _WSMan(self.server, **self._wsman_options)
            pool = RunspacePool(self._wsman, configuration_name=self.configuration_name)
            self.pool_opens += 1
            pool.open()
            self._pool = pool
        return self._pool

    def _release(self, ps: PowerShell) -> None:
        """Tell the host the pipeline is finished (frees it server-side)."""
        try:
            ps.close()
        except (WinRMError, requests.RequestException) as exc:
            log.info("releasing a pipeline on %s failed: %s", self.server, exc)
            self._discard()

    def _discard(self) -> None:
        """Forget the pool and the HTTP session; the next call opens fresh ones."""
        wsman, self._pool, self._wsman = self._wsman, None, None
        if wsman is not None:
            wsman.close()


def to_wire(value: ParamValue) -> object:
    """A parameter value as pypsrp should serialize it (plain types; big ints as Int64)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value) if value in _INT32 else TaggedValue("I64", int(value))
    if isinstance(value, Sequence):
        return [to_wire(item) for item in value]
    raise TypeError(f"cannot send {type(value).__name__} as a PSRP parameter")


def single_output(script: str, ps: PowerShell) -> str:
    """The one JSON document a pipeline wrote, or the HostError its error records mean."""
    if ps.streams.error:
        raise host_error(script, ps.streams.error[0])
    if ps.state == PSInvocationState.FAILED:
        raise HostError("the pipeline failed without an error record", script=script)
    texts = [item for item in ps.output if isinstance(item, str)]
    if len(ps.output) != 1 or len(texts) != 1:
        raise OutputError(f"{script}: expected one JSON document, got {len(ps.output)} objects")
    return texts[0]


def host_error(script: str, record: Any) -> HostError:
    """A HostError carrying what a PowerShell ErrorRecord says."""
    exception = record.exception
    properties: dict[str, Any] = {}
    for name in ("adapted_properties", "extended_properties"):
        properties.update(getattr(exception, name, None) or {})
    exception_types = getattr(exception, "types", None) or [""]
    category = record.category if isinstance(record.category, int) else 0
    target = record.target_name or (
        "" if record.target_object is None else str(record.target_object)
    )
    return HostError(
        record.details_message or str(properties.get("Message") or "") or str(record.message),
        fully_qualified_error_id=record.fq_error or "",
        category=ERROR_CATEGORIES[category] if 0 <= category < len(ERROR_CATEGORIES) else "",
        target=target,
        exception_type=exception_types[0],
        script=script,
    )


def connect(
    server: str | None = None,
    *,
    port: int | None = None,
    ssl: bool = True,
    auth: str = "negotiate",
    username: str | None = None,
    password: str | None = None,
    cert_validation: bool | str = True,
    encryption: str = "auto",
    operation_timeout: int = 20,
    connection_timeout: int = 30,
    read_timeout: int | None = None,
    configuration_name: str = "Microsoft.PowerShell",
    jea: bool | None = None,
    windows_containers_enabled: bool = True,
    retry: RetryPolicy | None = None,
    **auth_options: Any,
) -> Host:
    """A ``Host`` reached over WinRM/PSRP; close it (or use ``with``) to close its pool.

    ``server``, ``username`` and ``password`` default to DDPERM_HOST, DDPERM_USERNAME
    and DDPERM_PASSWORD. ``ssl`` picks https (port 5986) or http (5985). ``auth`` is
    one of pypsrp's: negotiate, ntlm, kerberos, basic, certificate, credssp (kerberos
    and credssp need the ``ddperm[kerberos]`` / ``ddperm[credssp]`` extras);
    ``auth_options`` carries their settings (``certificate_pem``, ``credssp_*``,
    ``negotiate_*``). ``cert_validation`` is on by default; pass a CA bundle path to
    trust a private CA. ``operation_timeout`` bounds one WS-Man operation,
    ``read_timeout`` (default: operation timeout + 10 s) one HTTP answer. The runspace
    pool opens on the first call. ``configuration_name="ddperm"`` (or ``jea=True`` for a
    JEA endpoint registered under another name) calls ddperm's JEA endpoint: each job is
    its module function by name, so no administrator credentials are needed.
    Settings that cannot work raise ``ConfigurationError`` here, before anything is sent.
    """
    server = check_server(server or os.environ.get("DDPERM_HOST"))
    if not configuration_name:
        raise ConfigurationError("configuration_name must name a PowerShell endpoint")
    options = {
        "port": port,
        "ssl": ssl,
        "auth": auth,
        "username": username if username is not None else os.environ.get("DDPERM_USERNAME"),
        "password": password if password is not None else os.environ.get("DDPERM_PASSWORD"),
        "cert_validation": cert_validation,
        "encryption": encryption,
        "operation_timeout": operation_timeout,
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout if read_timeout is not None else operation_timeout + 10,
        **auth_options,
    }
    check_options(options)
    if jea is None:
        jea = configuration_name.lower() == JEA_CONFIGURATION
    runner = PSRPRunner(server, configuration_name=configuration_name, jea=jea, **options)
    return Host(runner, windows_containers_enabled=windows_containers_enabled, retry=retry)
