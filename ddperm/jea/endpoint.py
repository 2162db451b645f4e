"""Install, inspect and remove ddperm's JEA endpoint on a host, over plain remoting.

``install(host)`` (an administrator, once) sends the generated module as data to the
vetted ``jea_install`` script. Register-PSSessionConfiguration restarts WinRM under the
caller, so the answer usually never arrives: install then reconnects and trusts only what
``jea_status`` reports afterwards, compared with the files this ddperm generates.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from ddperm.components.setup import check_member
from ddperm.errors import HostError, TransportError
from ddperm.host import Host
from ddperm.jea.module import (
    CONFIGURATION_NAME,
    DEFAULT_GROUPS,
    ModuleFile,
    Role,
    module_files,
    role_file,
)
from ddperm.model import HostModel
from ddperm.runner import ParamValue


class ModuleFileHash(HostModel):
    path: str
    sha256: str


class AclProblem(HostModel):
    path: str
    problem: str


class RoleDefinition(HostModel):
    principal: str
    role_capabilities: list[str]


class ConfigurationInfo(HostModel):
    """What Get-PSSessionConfiguration says about the ``ddperm`` configuration."""

    name: str
    session_type: str
    language_mode: str
    run_as_virtual_account: bool
    transcript_directory: str
    role_definitions: list[RoleDefinition]
    permission: str


class JeaStatus(HostModel):
    """What ``jea_status.ps1`` reports about the endpoint on one host."""

    installed: bool
    module_path: str
    files: list[ModuleFileHash]
    catalog: str  # Valid, ValidationFailed, Missing
    acl_problems: list[AclProblem]
    transcript_directory: str
    transcript_acl_problem: str | None
    configuration: ConfigurationInfo | None

    def problems(self, expected: Sequence[ModuleFile] | None = None) -> list[str]:
        """Every reason the endpoint cannot be trusted as this ddperm would install it."""
        if not self.installed:
            return ["the Ddperm module is not installed"]
        found: list[str] = []
        if self.catalog != "Valid":
            found.append(f"the module does not match its file catalog ({self.catalog})")
        found += [f"{p.path}: {p.problem}" for p in self.acl_problems]
        if self.transcript_acl_problem:
            found.append(f"{self.transcript_directory}: {self.transcript_acl_problem}")
        hashes = {f.path.lower(): f.sha256 for f in self.files}
        for file in expected if expected is not None else module_files():
            if hashes.get(file.path.lower()) != file.sha256:
                found.append(f"{file.path} is not the file this ddperm generates")
        found += _configuration_problems(self.configuration)
        return found


def _configuration_problems(config: ConfigurationInfo | None) -> list[str]:
    if config is None:
        return [f"the session configuration {CONFIGURATION_NAME!r} is not registered"]
    wanted = {
        "session_type": "RestrictedRemoteServer",
        "language_mode": "NoLanguage",
        "run_as_virtual_account": True,
    }
    return [
        f"the configuration's {key} is {getattr(config, key)!r}, not {value!r}"
        for key, value in wanted.items()
        if getattr(config, key) != value
    ]


class JeaInstalled(HostModel):
    registered: bool
    module_path: str
    catalog: str


class JeaRemoved(HostModel):
    module_removed: bool
    unregistered: bool


class EndpointError(HostError):
    """The endpoint is not (or no longer) what this ddperm installs; ``problems`` says why."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(
            f"{message}: " + "; ".join(problems), fully_qualified_error_id="DdpermJeaEndpoint"
        )
        self.problems = problems


def install_parameters(
    groups: Mapping[Role, str] | None = None,
    members: Mapping[Role, Iterable[str]] | None = None,
) -> dict[str, ParamValue]:
    """``jea_install``'s parameters: the generated files as data, groups and members."""
    chosen = {**DEFAULT_GROUPS, **(groups or {})}
    named = {role: [check_member(m) for m in (members or {}).get(role, ())] for role in Role}
    texts = {f.path: f.text for f in module_files()}
    params: dict[str, ParamValue] = {
        "ModuleManifest": texts["Ddperm.psd1"],
        "ModuleScript": texts["Ddperm.psm1"],
    }
    for role in Role:
        prefix = role.name.title()
        params[f"{prefix}Role"] = texts[role_file(role)]
        params[f"{prefix}Group"] = check_member(chosen[role])
        if named[role]:
            params[f"{prefix}Member"] = named[role]
    return params


def status(host: Host) -> JeaStatus:
    """The endpoint as the host reports it (run over plain remoting, as an administrator)."""
    return host.executor.call("jea_status", JeaStatus)


def install(
    host: Host,
    groups: Mapping[Role, str] | None = None,
    members: Mapping[Role, Iterable[str]] | None = None,
    *,
    reconnect_timeout: float = 120.0,
) -> JeaStatus:
    """Install (or reinstall) the endpoint and return its verified status.

    Raises ``EndpointError`` when, once WinRM is back, the host does not report the module
    this ddperm generates, a valid catalog, admin-only ACLs and the registered configuration.
    """
    params = install_parameters(groups, members)
    _through_winrm_restart(host, "jea_install", JeaInstalled, params)
    found = _status_after_restart(host, reconnect_timeout)
    problems = found.problems()
    if problems:
        raise EndpointError("the JEA endpoint did not install as expected", problems)
    return found


def uninstall(host: Host, *, reconnect_timeout: float = 120.0) -> JeaStatus:
    """Remove the module and the configuration (groups and transcripts stay)."""
    _through_winrm_restart(host, "jea_uninstall", JeaRemoved, {})
    found = _status_after_restart(host, reconnect_timeout)
    if found.installed or found.configuration is not None:
        raise EndpointError("the JEA endpoint is still there", found.problems())
    return found


def _through_winrm_restart(
    host: Host, script: str, model: type[HostModel], params: dict[str, ParamValue]
) -> None:
    """Run a script that restarts WinRM: a dropped connection is expected, not a failure."""
    try:
        host.executor.call(script, model, params)
    except TransportError as exc:
        if not exc.retryable:
            raise  # credentials or TLS: nothing ran
        # otherwise WinRM restarted under us (Register/Unregister-PSSessionConfiguration)
    except HostError as exc:
        if not exc.fully_qualified_error_id.startswith("WSManFault"):
            raise  # the script refused (ACL, group, validation): nothing was registered
    host.runner.close()


def _status_after_restart(host: Host, timeout: float) -> JeaStatus:
    """``status(host)`` once WinRM answers again (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return status(host)
        except TransportError as exc:
            if not exc.retryable or time.monotonic() >= deadline:
                raise
            host.runner.close()
            time.sleep(1.0)
