"""Twin of jea_install, jea_status and jea_uninstall (and lib/Jea.ps1): ddperm's JEA endpoint.

The module's files live in the twin's file system under ``MODULE_ROOT``; the file
catalog is the twin's own text (real ``.cat`` files are signed PKCS #7, which nothing but
``Test-FileCatalog`` reads). Registering or unregistering the configuration restarts WinRM
(``FakeHost.restart_winrm``), as Register-PSSessionConfiguration does.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ddperm.components.setup import MEMBER_PATTERN
from ddperm.jea.module import CATALOG_NAME, CONFIGURATION_NAME, Role, role_file
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeGroup, FakeHost, SessionConfiguration
from ddperm.testing.fs import FakeFileSystem, Kind
from ddperm.testing.jobs.hyperv import (
    ANY_WRITE_RIGHTS,
    assert_admin_folder,
    folder_acl_problem,
    new_folder,
)
from ddperm.testing.jobs.setup import _translate

MODULE_ROOT = r"C:\Program Files\WindowsPowerShell\Modules\Ddperm"
DATA_FOLDER = r"C:\ProgramData\ddperm-jea"
TRANSCRIPTS = DATA_FOLDER + r"\transcripts"
ANY_RIGHTS = 0xF01F01FF
_CATALOG_MAGIC = "ddperm-twin-catalog v2 (SHA256)\n"
_GROUP_RID = 1020  # RIDs of the groups jea_install creates


# -- lib/Jea.ps1 ------------------------------------------------------------------------


def relative_files(fs: FakeFileSystem, root: str) -> dict[str, bytes]:
    """Every file under ``root`` (catalog included) by path relative to it."""
    return {
        entry.path[len(root) + 1 :]: fs.read_bytes(entry.path)
        for entry in fs.walk(root)
        if entry.kind is Kind.FILE
    }


def new_file_catalog(fs: FakeFileSystem, root: str) -> None:
    """Twin of ``New-FileCatalog -CatalogVersion 2``: the hash of every file under ``root``."""
    hashes = {
        name.lower(): hashlib.sha256(data).hexdigest()
        for name, data in relative_files(fs, root).items()
    }
    text = _CATALOG_MAGIC + json.dumps(hashes, sort_keys=True)
    fs.write_bytes(root + "\\" + CATALOG_NAME, text.encode())


def catalog_status(fs: FakeFileSystem, root: str) -> str:
    """Twin of ``Get-DdpermJeaCatalogStatus``: Valid, ValidationFailed, or Missing.

    Test-FileCatalog fails validation when a file's hash or relative path differs from the
    catalog, or a file is missing or extra (the catalog itself skipped)."""
    catalog = root + "\\" + CATALOG_NAME
    if not fs.exists(catalog):
        return "Missing"
    text = fs.read_bytes(catalog).decode("utf-8", "replace")
    files = {
        name.lower(): hashlib.sha256(data).hexdigest()
        for name, data in relative_files(fs, root).items()
        if name.lower() != CATALOG_NAME.lower()
    }
    if not text.startswith(_CATALOG_MAGIC):
        return "ValidationFailed"
    try:
        pinned = json.loads(text[len(_CATALOG_MAGIC) :])
    except ValueError:
        return "ValidationFailed"
    return "Valid" if pinned == files else "ValidationFailed"


def acl_problems(fs: FakeFileSystem, root: str) -> list[dict[str, str]]:
    """Twin of ``Get-DdpermJeaAclProblems``."""
    problems: list[dict[str, str]] = []
    try:
        assert_admin_folder(fs, root, "JEA module folder")
    except ErrorRecord as record:
        problems.append({"path": root, "problem": record.message})
    for entry in fs.walk(root):
        problem = folder_acl_problem(fs, entry.path, ANY_WRITE_RIGHTS)
        if problem:
            problems.append({"path": entry.path, "problem": problem})
    return problems


def _error(fqid: str, message: str, target: str, category: str = "SecurityError") -> ErrorRecord:
    return ErrorRecord(message, fqid, category, target, "System.InvalidOperationException")


def assert_endpoint(fs: FakeFileSystem, root: str = MODULE_ROOT) -> None:
    """Twin of ``Assert-DdpermEndpoint``, which every module function runs first."""
    status = catalog_status(fs, root)
    if status != "Valid":
        raise _error(
            "DdpermCatalogMismatch",
            f"Refusing to run: the ddperm JEA module at '{root}' does not match its file "
            f"catalog ({status}). Reinstall it with 'ddperm jea install'.",
            root,
        )
    problems = acl_problems(fs, root)
    if problems:
        raise _error(
            "DdpermUnsafeAcl",
            "Refusing to run: a non-administrator could change the ddperm JEA module "
            f"({problems[0]['problem']}).",
            problems[0]["path"],
        )


def _validate(name: str, value: object, pattern: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ErrorRecord(
            f"Cannot validate argument on parameter '{name}'. The argument \"{value}\" does not "
            f'match the "^{pattern}\\z" pattern. Supply an argument that matches '
            '"^' + pattern + '\\z" and try the command again.',
            "ParameterArgumentValidationError,jea_install",
            "InvalidData",
            name,
            "System.Management.Automation.ParameterBindingValidationException",
        )
    return value


def _install_group(host: FakeHost, group: str, members: list[str]) -> str:
    """Twin of ``Install-DdpermJeaGroup``: the principal a role definition names."""
    if "\\" in group:
        if members:
            raise _error(
                "DdpermNotLocalGroup",
                f"Refusing to add members to '{group}': only local groups are changed.",
                group,
                "InvalidArgument",
            )
        if group not in host.accounts:
            raise _error(
                "DdpermGroupNotFound",
                f"The group '{group}' does not exist.",
                group,
                "ObjectNotFound",
            )
        return group
    local = next((g for g in host.groups.values() if g.name.lower() == group.lower()), None)
    if local is None:
        rid = _GROUP_RID + len(host.groups)
        local = host.groups[group] = FakeGroup(
            group, f"S-1-5-21-1004336348-1177238915-682003330-{rid}"
        )
    for member in members:
        try:
            name, sid = _translate(host, member)
        except ErrorRecord:
            raise _error(
                "DdpermAccountNotFound",
                f"The account '{member}' does not exist.",
                member,
                "ObjectNotFound",
            ) from None
        if name not in local.members and sid not in local.members:
            local.members.append(name)
    return f"{host.os.computer_name}\\{local.name}"


def _access_denied(path: str) -> ErrorRecord:
    return ErrorRecord(
        f'Exception calling "Create" with "1" argument(s): "Access to the path \'{path}\' is '
        'denied."',
        "UnauthorizedAccessException",
        "NotSpecified",
        "",
        "System.Management.Automation.MethodInvocationException",
    )


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


# -- the scripts -----------------------------------------------------------------------


@handles("jea_install")
def jea_install(
    host: FakeHost,
    ModuleManifest: str,
    ModuleScript: str,
    AuditorRole: str,
    OperatorRole: str,
    AdministratorRole: str,
    AuditorGroup: str,
    OperatorGroup: str,
    AdministratorGroup: str,
    AuditorMember: list[str] | None = None,
    OperatorMember: list[str] | None = None,
    AdministratorMember: list[str] | None = None,
) -> dict[str, object]:
    groups = {"AuditorGroup": AuditorGroup, "OperatorGroup": OperatorGroup}
    groups["AdministratorGroup"] = AdministratorGroup
    for name, value in groups.items():
        _validate(name, value, MEMBER_PATTERN)
    members = {
        role: [_validate(f"{role.name.title()}Member", m, MEMBER_PATTERN) for m in _as_list(v)]
        for role, v in (
            (Role.AUDITOR, AuditorMember),
            (Role.OPERATOR, OperatorMember),
            (Role.ADMINISTRATOR, AdministratorMember),
        )
    }
    if not host.caller.elevated:  # Program Files and ProgramData\ddperm: administrators only
        raise _access_denied(MODULE_ROOT)
    fs = host.fs
    for folder in (MODULE_ROOT, MODULE_ROOT + r"\RoleCapabilities", DATA_FOLDER, TRANSCRIPTS):
        new_folder(fs, folder, "JEA folder")
    for name in relative_files(fs, MODULE_ROOT):
        fs.remove(MODULE_ROOT + "\\" + name)
    texts = {
        "Ddperm.psd1": ModuleManifest,
        "Ddperm.psm1": ModuleScript,
        role_file(Role.AUDITOR): AuditorRole,
        role_file(Role.OPERATOR): OperatorRole,
        role_file(Role.ADMINISTRATOR): AdministratorRole,
    }
    for name, text in texts.items():
        fs.write_bytes(MODULE_ROOT + "\\" + name, text.encode("utf-8"))
    new_file_catalog(fs, MODULE_ROOT)
    principals = {
        role: _install_group(host, group, members[role])
        for role, group in zip(Role, groups.values(), strict=True)
    }
    host.session_configurations[CONFIGURATION_NAME] = SessionConfiguration(
        CONFIGURATION_NAME,
        transcript_directory=TRANSCRIPTS,
        role_definitions={p: (role.value,) for role, p in principals.items()},
    )
    host.restart_winrm()  # Register-PSSessionConfiguration -Force: the session ends here
    return {
        "registered": True,
        "module_path": MODULE_ROOT,
        "catalog": catalog_status(fs, MODULE_ROOT),
    }


def configuration_document(config: SessionConfiguration | None) -> dict[str, Any] | None:
    """Twin of ``Get-DdpermJeaConfiguration``."""
    if config is None:
        return None
    return {
        "name": config.name,
        "session_type": config.session_type,
        "language_mode": config.language_mode,
        "run_as_virtual_account": config.run_as_virtual_account,
        "transcript_directory": config.transcript_directory,
        "role_definitions": [
            {"principal": p, "role_capabilities": list(r)}
            for p, r in config.role_definitions.items()
        ],
        "permission": ", ".join(f"{p} AccessAllowed" for p in config.role_definitions),
    }


@handles("jea_status")
def jea_status(host: FakeHost) -> dict[str, object]:
    fs = host.fs
    installed = fs.exists(MODULE_ROOT, follow=True)
    files = (
        [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(relative_files(fs, MODULE_ROOT).items())
        ]
        if installed
        else []
    )
    transcript_problem = (
        folder_acl_problem(fs, TRANSCRIPTS, ANY_RIGHTS) or None if fs.exists(TRANSCRIPTS) else None
    )
    return {
        "installed": installed,
        "module_path": MODULE_ROOT,
        "files": files,
        "catalog": catalog_status(fs, MODULE_ROOT) if installed else "Missing",
        "acl_problems": acl_problems(fs, MODULE_ROOT) if installed else [],
        "transcript_directory": TRANSCRIPTS,
        "transcript_acl_problem": transcript_problem,
        "configuration": configuration_document(
            host.session_configurations.get(CONFIGURATION_NAME)
        ),
    }


@handles("jea_uninstall")
def jea_uninstall(host: FakeHost) -> dict[str, object]:
    if not host.caller.elevated:
        raise _access_denied(MODULE_ROOT)
    fs = host.fs
    removed = fs.exists(MODULE_ROOT, follow=True)
    if removed:
        for entry in list(fs.walk(MODULE_ROOT)):  # children before their folder
            fs.remove(entry.path)
        fs.remove(MODULE_ROOT)
    registered = host.session_configurations.pop(CONFIGURATION_NAME, None) is not None
    if registered:
        host.restart_winrm()  # Unregister-PSSessionConfiguration -Force
    return {"module_removed": removed, "unregistered": registered}
