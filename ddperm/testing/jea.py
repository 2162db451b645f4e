"""The twin's Just Enough Administration: sessions on a registered RestrictedRemoteServer
configuration (``FakeHost.session_configurations``), in-process and for the wire twin.

Opening a session resolves the caller's roles from the configuration's RoleDefinitions
and the caller's groups (none: WinRM refuses the connection, access denied), reads each
role's ``.psrc`` from the twin's file system (a role capability someone changed takes
effect, as on Windows), picks a virtual account and starts a transcript. In the session
only the visible functions run, by name, with parameters: script text is refused as a
NoLanguage runspace refuses it, and a hidden or unknown command is not found. A function
of the Ddperm module binds its parameters, checks the module (Assert-DdpermEndpoint) and
runs its job as the virtual account.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ddperm.errors import AuthenticationError, TransportError
from ddperm.host import Host
from ddperm.jea.endpoint import install_parameters
from ddperm.jea.module import CONFIGURATION_NAME, MODULE_NAME, Role, function_for, script_for
from ddperm.runner import Params
from ddperm.scripts import Script
from ddperm.testing import errors
from ddperm.testing.dispatch import bind
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import Caller, FakeHost, SessionConfiguration
from ddperm.testing.fs import ADMINISTRATORS, USERS
from ddperm.testing.jobs.jea import MODULE_ROOT, assert_endpoint

RESTRICTED_REMOTE_SERVER = (
    "Clear-Host",
    "Exit-PSSession",
    "Get-Command",
    "Get-FormatData",
    "Get-Help",
    "Measure-Object",
    "Out-Default",
    "Select-Object",
)
"""What every RestrictedRemoteServer session sees (JEA docs, "Session configurations")."""
ACCESS_DENIED = 5
_VISIBLE = re.compile(r"VisibleFunctions\s*=\s*(?:@\()?(?P<names>[^)}]*)", re.IGNORECASE)
_virtual_accounts = itertools.count(1)


class EndpointRefused(Exception):
    """WinRM would not open a shell on the configuration; ``code`` is the WS-Man fault code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _role_functions(fake: FakeHost, role: str) -> list[str]:
    """The VisibleFunctions of the role capability file as the host has it now."""
    path = f"{MODULE_ROOT}\\RoleCapabilities\\{role}.psrc"
    if not fake.fs.exists(path):
        raise EndpointRefused(f"The role capability '{role}' could not be found.", 0x80338104)
    text = fake.fs.read_bytes(path).decode("utf-8", "replace")
    found = _VISIBLE.search(text)
    return re.findall(r"'([^']+)'", found["names"]) if found else []


def _virtual_account(fake: FakeHost, user: str, config: SessionConfiguration) -> Caller:
    """The run-as identity: a fresh virtual account, a local administrator unless the
    configuration names RunAsVirtualAccountGroups (then a member of those only)."""
    number = next(_virtual_accounts)
    domain, _, name = user.rpartition("\\")
    groups = {g.sid for g in fake.groups.values() if g.name in config.run_as_virtual_account_groups}
    return Caller(
        user=f"WinRM Virtual Users\\WinRM VA_{number}_{domain or fake.os.computer_name}_{name}",
        sid=f"S-1-5-94-{number}",
        elevated=not config.run_as_virtual_account_groups,
        groups=groups if config.run_as_virtual_account_groups else {ADMINISTRATORS, USERS},
    )


@dataclass
class JeaSession:
    """One JEA session (one runspace pool): who connected, as whom it runs, what it sees."""

    fake: FakeHost
    configuration: SessionConfiguration
    user: str
    run_as: Caller
    visible: dict[str, str]  # lower-cased name -> name
    transcript: str = ""
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, command: str, params: Mapping[str, Any]) -> object:
        """Run one visible command by name; ErrorRecord as the session would write it."""
        name = self.visible.get(command.lower())
        if name is None:
            raise errors.command_not_found(command)
        script = script_for(name)
        if script is None:
            raise ErrorRecord(
                f"The twin does not model '{name}' (visible in this session).",
                "DdpermTwinNotModelled",
                "NotImplemented",
                name,
                "System.NotImplementedException",
            )
        self._transcribe(name, params)
        fake = self.fake
        with fake._lock:
            bind(script, params, command=name)
            assert_endpoint(fake.fs)
            saved, fake.caller = fake.caller, self.run_as
            try:
                return fake.execute(script, params)
            finally:
                fake.caller = saved

    def run_script(self, text: str) -> object:
        """Script text: refused by the NoLanguage runspace before it is parsed."""
        raise errors.scripts_not_allowed(text)

    def _transcribe(self, name: str, params: Mapping[str, Any]) -> None:
        self.commands.append((name, dict(params)))
        lines = [f'PS>CommandInvocation({name}): "{name}"']
        lines += [
            f'>> ParameterBinding({name}): name="{k}"; value="{v}"' for k, v in params.items()
        ]
        self._append(lines)

    def _append(self, lines: list[str]) -> None:
        if not self.transcript:  # the configuration keeps no transcripts
            return
        fs = self.fake.fs
        old = fs.read_bytes(self.transcript) if fs.exists(self.transcript) else b""
        fs.write_bytes(self.transcript, old + "".join(f"{line}\r\n" for line in lines).encode())


def open_session(
    fake: FakeHost, user: str, configuration_name: str = CONFIGURATION_NAME
) -> JeaSession:
    """Open a session for ``user`` (an account the FakeHost knows) on a registered configuration."""
    with fake._lock:
        config = fake.session_configurations.get(configuration_name.lower())
        if config is None:
            raise EndpointRefused(
                f"The WS-Management service cannot process the request. Cannot find the "
                f"{configuration_name} session configuration in the WSMan: drive on the "
                f"{fake.os.computer_name} computer.",
                0x80338000 + 0x10C,
            )
        account = next((a for a in fake.accounts if a.lower() == user.lower()), user)
        principals = {account.lower(), fake.accounts.get(account, "").lower()}
        principals |= {
            f"{fake.os.computer_name}\\{g.name}".lower() for g in fake.groups_of(account)
        }
        roles = [
            role
            for principal, names in config.role_definitions.items()
            if principal.lower() in principals
            for role in names
        ]
        if not roles:
            raise EndpointRefused("Access is denied.", ACCESS_DENIED)
        visible = {name.lower(): name for name in RESTRICTED_REMOTE_SERVER}
        for role in roles:
            visible |= {name.lower(): name for name in _role_functions(fake, role)}
        session = JeaSession(
            fake, config, account, _virtual_account(fake, account, config), visible
        )
        if config.transcript_directory:
            session.transcript = _start_transcript(fake, session)
        return session


def _start_transcript(fake: FakeHost, session: JeaSession) -> str:
    """The transcript file (PSHostUserInterface.GetTranscriptPath, with the date folder)."""
    now = datetime.now()
    folder = f"{session.configuration.transcript_directory}\\{now:%Y%m%d}"
    fake.fs.mkdir(folder)  # inherits the transcript folder's admin-only ACL
    token = secrets.token_urlsafe(6).replace("-", "+")
    path = f"{folder}\\PowerShell_transcript.{fake.os.computer_name}.{token}.{now:%Y%m%d%H%M%S}.txt"
    session.transcript = path
    session._append(
        [
            "**********************",
            "Windows PowerShell transcript start",
            f"Start time: {now:%Y%m%d%H%M%S}",
            f"Username: {session.user}",
            f"RunAs User: {session.run_as.user}",
            f"Configuration Name: {session.configuration.name}",
            f"Machine: {fake.os.computer_name} (Microsoft Windows NT {fake.os.version}.0)",
            "**********************",
        ]
    )
    return path


class JeaTwinRunner:
    """A Runner that calls the Ddperm module's functions in a JEA session on a FakeHost,
    as ``ddperm.connect(..., configuration_name="ddperm")`` does over the wire."""

    def __init__(self, fake: FakeHost, user: str, configuration_name: str = CONFIGURATION_NAME):
        self.fake = fake
        self.user = user
        self.configuration_name = configuration_name
        self.session: JeaSession | None = None

    def run(self, script: Script, params: Params) -> str:
        function = function_for(script.name)
        try:
            if self.session is None:
                self.session = open_session(self.fake, self.user, self.configuration_name)
            result = self.session.invoke(function, dict(params))
        except EndpointRefused as refused:
            if refused.code == ACCESS_DENIED:
                raise AuthenticationError(f"{self.user}: {refused}") from None
            raise TransportError(str(refused)) from None
        except ErrorRecord as record:
            raise record.to_host_error(script.name) from None
        return json.dumps(result, separators=(",", ":"))

    def close(self) -> None:
        """End the session (a new one, with a new virtual account, opens on the next call)."""
        self.session = None


def jea_twin_host(fake: FakeHost, user: str, **host_options: Any) -> Host:
    """A ``Host`` that reaches ``fake`` as ``user`` through its ``ddperm`` JEA endpoint."""
    return Host(JeaTwinRunner(fake, user), **host_options)


def install_jea(
    fake: FakeHost,
    members: Mapping[Role, tuple[str, ...] | list[str]] | None = None,
) -> None:
    """Install the endpoint on ``fake`` directly (no wire), with these role members: the
    twin job ``ddperm jea install`` runs, run by an administrator whoever ``fake.caller`` is."""
    with fake._lock:
        caller, fake.caller = fake.caller, Caller()
        try:
            fake.execute("jea_install", install_parameters(members=dict(members or {})))
        finally:
            fake.caller = caller


__all__ = [
    "MODULE_NAME",
    "EndpointRefused",
    "JeaSession",
    "JeaTwinRunner",
    "install_jea",
    "jea_twin_host",
    "open_session",
]
