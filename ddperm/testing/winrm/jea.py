"""The twin's JEA over the wire: a shell created on a registered session configuration
(``.../powershell/ddperm``) is one ``JeaSession`` for the user who logged in.

WinRM refuses the shell when the configuration maps no role to the user (access denied,
WS-Man fault 5); a name the host never registered is outside WinRM's catalog. In the shell
every pipeline goes through the session: script text is refused (NoLanguage), each command
must be visible, and the twin runs one command per pipeline, by name, with named (or
positional) parameters.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ddperm.jea.module import script_for
from ddperm.testing import errors
from ddperm.testing.dispatch import parameters
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.jea import ACCESS_DENIED, EndpointRefused, JeaSession, open_session
from ddperm.testing.winrm import soap
from ddperm.testing.winrm.bridge import FakeHostRunner
from ddperm.testing.winrm.shell import PipelineCommand, PipelineRunner
from ddperm.testing.winrm.soap import WSManFault


class JeaSessions:
    """The endpoint's SessionOpener: a JEA session on the FakeHost answering now."""

    def __init__(self, runner: FakeHostRunner) -> None:
        self.runner = runner

    def __call__(self, configuration: str, user: str) -> PipelineRunner | None:
        """A session, None for a configuration the host has not registered (the service
        then answers as WinRM does for a resource URI outside its catalog)."""
        if configuration.lower() not in self.runner.fake.session_configurations:
            return None
        try:
            session = open_session(self.runner.fake, user, configuration)
        except EndpointRefused as refused:
            sender = refused.code == ACCESS_DENIED
            fault = soap.Fault(refused.code, "w:AccessDenied", str(refused), sender=sender)
            raise WSManFault(fault) from None
        return functools.partial(run_pipeline, session)


def run_pipeline(session: JeaSession, commands: list[PipelineCommand]) -> str:
    """One pipeline in the session: its output, or the ErrorRecord the session writes."""
    for command in commands:
        if command.is_script:
            raise errors.scripts_not_allowed(command.text)
    for command in commands:
        if command.text.lower() not in session.visible:
            raise errors.command_not_found(command.text)
    if len(commands) != 1:
        raise ErrorRecord(
            "The twin runs one command per pipeline in a JEA session.",
            "DdpermTwinNotModelled",
            "NotImplemented",
            "",
            "System.NotImplementedException",
        )
    command = commands[0]
    result = session.invoke(command.text, _named(command))
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


def _named(command: PipelineCommand) -> dict[str, Any]:
    """Named parameters; positional values bound in param() order (PositionalBinding)."""
    named = {name: value for name, value in command.parameters if name is not None}
    positional = [value for name, value in command.parameters if name is None]
    script = script_for(command.text)
    order = [n for n in parameters(script) if n not in named] if script else []
    if len(positional) > len(order):
        raise ErrorRecord(
            f"A positional parameter cannot be found that accepts argument "
            f"'{positional[len(order)]}'.",
            f"PositionalParameterNotFound,{command.text}",
            "InvalidArgument",
            "",
            "System.Management.Automation.ParameterBindingException",
        )
    return named | dict(zip(order, positional, strict=False))
