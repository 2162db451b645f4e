"""The Ddperm PowerShell module, generated from ps_scripts/ for ddperm's JEA endpoint.

Each job script becomes one exported function (approved verb, ``Ddperm`` noun prefix)
whose body *is* the assembled script: the same ``param()`` block and validation, the
same JSON output. The only line added is ``Assert-DdpermEndpoint`` right after
``param()``, so every call first checks the module's file catalog and ACLs (module code
runs in FullLanguage inside the NoLanguage session). The role capability files list the
functions each role sees. Nothing here is committed: ``module_files()`` builds the same
bytes from the same scripts every time, and install sends them to the host as data.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass

from ddperm.components.system import ddperm_version
from ddperm.errors import PolicyError
from ddperm.scripts import ScriptKind, ScriptRegistry, default_registry, param_block_end

MODULE_NAME = "Ddperm"
CONFIGURATION_NAME = "ddperm"
CATALOG_NAME = "Ddperm.cat"
MODULE_LIBRARIES = ("Paths", "Setup", "Jea")
"""Libraries the module defines once at its top, for Assert-DdpermEndpoint."""


class Role(str, enum.Enum):
    """The role capabilities, each a superset of the one before."""

    AUDITOR = "DdpermAuditor"
    OPERATOR = "DdpermOperator"
    ADMINISTRATOR = "DdpermAdministrator"


DEFAULT_GROUPS = {
    Role.AUDITOR: "ddperm-auditors",
    Role.OPERATOR: "ddperm-operators",
    Role.ADMINISTRATOR: "ddperm-admins",
}

FUNCTIONS = {
    "boot_state": "Get-DdpermBootStatus",
    "bootloader_enable": "Enable-DdpermHypervisorLaunch",
    "bootloader_status": "Get-DdpermBootloader",
    "containers_delete_data": "Clear-DdpermContainersData",
    "docker_users_add": "Add-DdpermDockerUser",
    "docker_users_status": "Get-DdpermDockerUserStatus",
    "engine_start": "Start-DdpermEngine",
    "engine_status": "Get-DdpermEngine",
    "engine_stop": "Stop-DdpermEngine",
    "features_check": "Get-DdpermFeatureState",
    "features_enable": "Enable-DdpermFeature",
    "health": "Get-DdpermHealth",
    "hosts_read": "Read-DdpermHostsFile",
    "hosts_status": "Get-DdpermHostsEntry",
    "hosts_write": "Write-DdpermHostsFile",
    "hyperv_status": "Get-DdpermHyperV",
    "jea_status": "Get-DdpermJeaStatus",
    "policy_cache": "Set-DdpermPolicyCache",
    "policy_read": "Read-DdpermPolicy",
    "policy_status": "Get-DdpermPolicyCacheStatus",
    "restart": "Restart-DdpermComputer",
    "version": "Get-DdpermVersion",
    "vhd_move": "Move-DdpermVHD",
    "vhd_size": "Get-DdpermVHDSize",
    "vm_create": "New-DdpermVM",
    "vm_destroy": "Remove-DdpermVM",
    "vm_info": "Get-DdpermVMInfo",
    "vm_start": "Start-DdpermVM",
    "vm_stop": "Stop-DdpermVM",
}
"""Job script -> the module function that runs it."""

NOT_IN_MODULE = {
    "jea_install": "installs the endpoint itself (an administrator over plain remoting)",
    "jea_uninstall": "removes the endpoint itself (an administrator over plain remoting)",
}
"""Job scripts the module leaves out, each with the reason."""

OPERATOR_JOBS = frozenset(
    {
        "vm_create",
        "vm_start",
        "vm_stop",
        "engine_start",
        "engine_stop",
        "hosts_write",
        "docker_users_add",
        "features_enable",
        "bootloader_enable",
        "restart",
    }
)
"""Changes an operator may make: VM lifecycle, the Windows engine, the hosts entry and the
provisioning steps. Everything else that changes the host (deleting data or the VM, moving
its disk, the RAM policy) is for the administrator role only; reads are for everyone."""

_GUIDS = uuid.UUID("6f1f7a52-5b8e-4c1e-9a51-1f0d4b2c7e10")  # namespace for the files' GUIDs


def function_for(script: str) -> str:
    """The module function that runs ``script``; PolicyError for a job it does not have."""
    name = FUNCTIONS.get(script)
    if name is None:
        raise PolicyError(f"the JEA endpoint has no function for {script!r}")
    return name


def script_for(function: str) -> str | None:
    """The job a module function runs (names compared case-insensitively), or None."""
    lowered = function.lower()
    return next((s for s, f in FUNCTIONS.items() if f.lower() == lowered), None)


def role_of(script: str, kind: ScriptKind) -> Role:
    """The least role that sees ``script``: reads for auditors (the ``# ddperm-kind``
    header), then the operator's list, then administrators."""
    if kind is ScriptKind.READ:
        return Role.AUDITOR
    return Role.OPERATOR if script in OPERATOR_JOBS else Role.ADMINISTRATOR


def visible_functions(role: Role, registry: ScriptRegistry | None = None) -> tuple[str, ...]:
    """Every function ``role`` sees (its own and those of the roles below it), sorted."""
    registry = registry or default_registry()
    order = list(Role)
    return tuple(
        sorted(
            FUNCTIONS[name]
            for name in registry.names()
            if name in FUNCTIONS
            and order.index(role_of(name, registry.get(name).kind)) <= order.index(role)
        )
    )


@dataclass(frozen=True)
class ModuleFile:
    """One file of the module: its path relative to the module folder, and its text."""

    path: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _quoted(value: str) -> str:
    """A PowerShell single-quoted literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "@(\n" + "".join(f"        {_quoted(v)}\n" for v in values) + "    )"


_PREAMBLE_END = "$ProgressPreference = 'SilentlyContinue'\n"


def _function(registry: ScriptRegistry, script: str) -> str:
    """The job's assembled text as a function body, the endpoint check after its preamble."""
    text = registry.get(script).text
    at = text.find(_PREAMBLE_END, param_block_end(text))
    if at < 0:
        raise PolicyError(f"{script}: no preamble after param() to put the endpoint check after")
    at += len(_PREAMBLE_END)
    body = text[:at] + "Assert-DdpermEndpoint -Root $PSScriptRoot\n" + text[at:]
    return f"function {FUNCTIONS[script]} {{\n{body.rstrip()}\n}}\n"


def _header(registry: ScriptRegistry) -> str:
    return (
        f"# Generated by ddperm {ddperm_version()} from ps_scripts/ "
        f"(manifest SHA-256 {registry.manifest_sha256}); do not edit.\n"
    )


def _module_script(registry: ScriptRegistry, jobs: list[str]) -> str:
    libraries = "\n".join(registry.library_text(name).rstrip() + "\n" for name in MODULE_LIBRARIES)
    functions = "\n".join(_function(registry, job) for job in jobs)
    exported = ", ".join(_quoted(FUNCTIONS[job]) for job in jobs)
    return (
        _header(registry)
        + "# One function per vetted job; each checks the module first (Assert-DdpermEndpoint).\n"
        + "Set-StrictMode -Version 3\n\n"
        + libraries
        + "\n"
        + functions
        + f"\nExport-ModuleMember -Function {exported}\n"
    )


def _manifest(registry: ScriptRegistry, jobs: list[str]) -> str:
    functions = tuple(FUNCTIONS[job] for job in jobs)
    version = ".".join(ddperm_version().split("+")[0].split(".")[:3])
    version = version if all(p.isdigit() for p in version.split(".")) else "0.0.0"
    return (
        _header(registry)
        + "@{\n"
        + "    RootModule = 'Ddperm.psm1'\n"
        + f"    ModuleVersion = {_quoted(version)}\n"
        + f"    GUID = {_quoted(str(uuid.uuid5(_GUIDS, 'module')))}\n"
        + "    Author = 'ddperm'\n"
        + "    Description = 'Docker Desktop privileged jobs for the ddperm JEA endpoint'\n"
        + "    PowerShellVersion = '5.1'\n"
        + f"    FunctionsToExport = {_list(functions)}\n"
        + "    CmdletsToExport = @()\n"
        + "    VariablesToExport = @()\n"
        + "    AliasesToExport = @()\n"
        + "}\n"
    )


def _role_capability(registry: ScriptRegistry, role: Role) -> str:
    return (
        _header(registry)
        + "@{\n"
        + f"    GUID = {_quoted(str(uuid.uuid5(_GUIDS, role.value)))}\n"
        + "    Author = 'ddperm'\n"
        + f"    Description = {_quoted(f'ddperm JEA role {role.value}')}\n"
        + f"    ModulesToImport = {_quoted(MODULE_NAME)}\n"
        + f"    VisibleFunctions = {_list(visible_functions(role, registry))}\n"
        + "}\n"
    )


def role_file(role: Role) -> str:
    return f"RoleCapabilities\\{role.value}.psrc"


def module_files(registry: ScriptRegistry | None = None) -> tuple[ModuleFile, ...]:
    """The module's files, the same bytes for the same scripts (checked in the tests)."""
    registry = registry or default_registry()
    jobs = [name for name in registry.names() if name not in NOT_IN_MODULE]
    missing = [name for name in jobs if name not in FUNCTIONS]
    if missing:
        raise PolicyError(f"job scripts without a JEA function: {', '.join(missing)}")
    return (
        ModuleFile("Ddperm.psd1", _manifest(registry, jobs)),
        ModuleFile("Ddperm.psm1", _module_script(registry, jobs)),
        *(ModuleFile(role_file(role), _role_capability(registry, role)) for role in Role),
    )
