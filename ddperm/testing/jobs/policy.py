"""Twin of policy_status.ps1, policy_read.ps1, policy_cache.ps1 and lib/Policy.ps1.

The cache is ``registry-access-policy.json`` in ``POLICY_FOLDER``; both carry exactly the
protected ACL the script gives them (``POLICY_FOLDER_SDDL``, ``POLICY_FILE_SDDL``) and a
SYSTEM or Administrators owner, or every read fails closed. Under PowerShell 7
(``FakeHost.edition``) the script text decides what breaks (``ddperm.testing.editions``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from ddperm.components.policy import FETCHED_AT_PATTERN, ORGANIZATION_PATTERN, REGISTRY_PATTERN
from ddperm.testing import editions
from ddperm.testing.acl import RIGHTS
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import POLICY_FOLDER, FakeHost
from ddperm.testing.fs import (
    ADMINISTRATORS,
    SYSTEM,
    USERS,
    FsError,
    FsErrorKind,
    Kind,
    PowerLoss,
)
from ddperm.testing.jobs.hosts_file import require_strings

POLICY_FILE = POLICY_FOLDER + r"\registry-access-policy.json"
# What New-DdpermAdminFolderSecurity -Readers Users and Set-DdpermPolicyFileAcl write (.NET
# adds SYNCHRONIZE to an allow rule: ReadAndExecute is stored as 0x1200a9).
POLICY_FOLDER_SDDL = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
POLICY_FILE_SDDL = "O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)"
POLICY_ACL = {
    SYSTEM: "FullControl",
    ADMINISTRATORS: "FullControl",
    USERS: "ReadAndExecute, Synchronize",
}
MAX_REGISTRIES = 100
_TRUSTED_OWNERS = (SYSTEM, ADMINISTRATORS)
_WRITE_RIGHTS = 0x500D0156  # $DdpermPolicyWriteRights
_UNTRUSTED = (
    "is a link, is not owned by SYSTEM or Administrators, or does not carry ddperm's "
    "protected ACL (someone else created it or changed it). Delete it and cache the policy "
    "again. Nothing was changed."
)
_PROBLEMS = {
    "DdpermPolicyMissing": (
        f"No Registry Access Management policy is cached at '{POLICY_FILE}'; access is "
        "denied until one is cached.",
        "ObjectNotFound",
    ),
    "DdpermPolicyUntrusted": (
        f"The policy cache '{POLICY_FILE}' or its folder could be changed by "
        "non-administrators (ACL, owner or a link); it is not trusted.",
        "SecurityError",
    ),
    "DdpermPolicyUnreadable": (
        f"The policy cache '{POLICY_FILE}' cannot be read or is not a ddperm policy document.",
        "ReadError",
    ),
    "DdpermPolicyTampered": (
        f"The policy cache '{POLICY_FILE}' does not match its SHA-256; it was changed "
        "outside ddperm.",
        "SecurityError",
    ),
    "DdpermPolicyInvalid": (
        f"The policy cache '{POLICY_FILE}' holds an invalid policy (organization, registry "
        "names or fetch time).",
        "InvalidData",
    ),
}


def _error(fqid: str, message: str, category: str) -> ErrorRecord:
    return ErrorRecord(message, fqid, category, POLICY_FILE, "System.InvalidOperationException")


def _owner_trusted(host: FakeHost, path: str) -> bool:
    """Twin of Get-DdpermPolicySecurity's test: no link, owned by SYSTEM or Administrators."""
    return not host.fs.stat(path).is_reparse_point and host.fs.owner(path) in _TRUSTED_OWNERS


def _trusted(host: FakeHost, path: str) -> bool:
    """Twin of Test-DdpermPolicyTrusted: protected, SYSTEM and Administrators full control,
    Users without a write right, nobody else."""
    if not _owner_trusted(host, path) or not host.fs.protected(path):
        return False
    seen = set()
    full = RIGHTS["FullControl"]
    for ace in host.fs.dacl(path):
        if not ace.allow:
            return False
        if ace.sid in _TRUSTED_OWNERS:
            if ace.rights & full != full:
                return False
        elif ace.sid != USERS or ace.rights & _WRITE_RIGHTS:
            return False
        seen.add(ace.sid)
    return len(seen) == 3


def fields_valid(organization: Any, registries: Any, fetched_at: Any) -> bool:
    """Twin of Test-DdpermPolicyFields."""
    if not isinstance(organization, str) or not re.fullmatch(ORGANIZATION_PATTERN, organization):
        return False
    if not isinstance(fetched_at, str) or not re.fullmatch(FETCHED_AT_PATTERN, fetched_at):
        return False
    if not isinstance(registries, list) or len(registries) > MAX_REGISTRIES:
        return False
    if not all(isinstance(r, str) and re.fullmatch(REGISTRY_PATTERN, r) for r in registries):
        return False
    return len(set(registries)) == len(registries)


def read_cache(host: FakeHost, script: str) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """Twin of Read-DdpermPolicyCache as ``script`` includes it: (problem id, policy, sha256)."""
    fs = host.fs
    if not (
        fs.exists(POLICY_FILE, follow=True) and fs.stat(POLICY_FILE, follow=True).kind is Kind.FILE
    ):
        return "DdpermPolicyMissing", None, None
    try:
        editions.acl_method_missing(host, editions.script_text(script))
        if not (_trusted(host, POLICY_FOLDER) and _trusted(host, POLICY_FILE)):
            return "DdpermPolicyUntrusted", None, None
        text = fs.read_bytes(POLICY_FILE).decode("utf-8")
        document = editions.convert_from_json(host, script, text)
        if (
            not isinstance(document, dict)
            or list(document) != ["format", "sha256", "policy"]
            or document["format"] != 1
            or not isinstance(document["policy"], str)
        ):
            return "DdpermPolicyUnreadable", None, None
        inner: str = document["policy"]
        if hashlib.sha256(inner.encode("utf-8")).hexdigest() != document["sha256"]:
            return "DdpermPolicyTampered", None, None
        policy = editions.convert_from_json(host, script, inner)
    except (ErrorRecord, FsError, ValueError):
        return "DdpermPolicyUnreadable", None, None
    if (
        not isinstance(policy, dict)
        or list(policy) != ["organization", "allowed_registries", "fetched_at"]
        or not fields_valid(
            policy["organization"], policy["allowed_registries"], policy["fetched_at"]
        )
    ):
        return "DdpermPolicyInvalid", None, None
    return None, policy, document["sha256"]


def policy_status(host: FakeHost, script: str = "policy_status") -> dict[str, object]:
    """Twin of Get-DdpermPolicyStatus (for policy_status.ps1 and health.ps1)."""
    problem, policy, sha256 = read_cache(host, script)
    return {
        "path": POLICY_FILE,
        "cached": problem != "DdpermPolicyMissing",
        "problem": problem,
        "organization": policy["organization"] if policy else None,
        "registries": len(policy["allowed_registries"]) if policy else 0,
        "fetched_at": policy["fetched_at"] if policy else None,
        "sha256": sha256,
    }


@handles("policy_status")
def policy_status_script(host: FakeHost) -> dict[str, object]:
    return policy_status(host)


@handles("policy_read")
def policy_read(host: FakeHost) -> dict[str, object]:
    problem, policy, sha256 = read_cache(host, "policy_read")
    if problem is not None or policy is None:
        message, category = _PROBLEMS[problem or "DdpermPolicyUnreadable"]
        raise _error(problem or "DdpermPolicyUnreadable", message, category)
    return {"path": POLICY_FILE, **policy, "sha256": sha256}


@handles("policy_cache")
def policy_cache(
    host: FakeHost, Organization: str, AllowedRegistries: list[str], FetchedAt: str
) -> dict[str, object]:
    require_strings(
        "policy_cache",
        Organization=Organization,
        AllowedRegistries=AllowedRegistries,
        FetchedAt=FetchedAt,
    )
    registries = (
        [AllowedRegistries] if isinstance(AllowedRegistries, str) else list(AllowedRegistries)
    )
    if not fields_valid(Organization, registries, FetchedAt):
        raise _error(
            "DdpermPolicyInvalid",
            "Refused the policy: the organization, a registry name (host name with optional "
            "port, lowercase, no wildcards, at most 100, no duplicates) or the fetch time (UTC, "
            "ISO 8601) is not valid. Nothing was changed.",
            "InvalidArgument",
        )
    if not host.caller.elevated:
        raise _error(
            "DdpermPolicyAccessDenied",
            f"Access to '{POLICY_FOLDER}' is denied; caching the policy needs an elevated "
            "administrator. The old cache, if any, is unchanged.",
            "PermissionDenied",
        )
    fs = host.fs
    editions.acl_method_missing(host, editions.script_text("policy_cache"))
    if fs.exists(POLICY_FOLDER) and not _trusted(host, POLICY_FOLDER):
        raise _untrusted(POLICY_FOLDER)
    if fs.exists(POLICY_FILE) and not _owner_trusted(host, POLICY_FILE):
        raise _untrusted(POLICY_FILE)
    inner = {
        "organization": Organization,
        "allowed_registries": registries,
        "fetched_at": FetchedAt,
    }
    text = json.dumps(inner, separators=(",", ":"))
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    document = json.dumps({"format": 1, "sha256": sha256, "policy": text}, separators=(",", ":"))
    temp = POLICY_FOLDER + rf"\registry-access-policy.{uuid.uuid4().hex}.tmp"
    machine_on = True
    try:
        if not fs.exists(POLICY_FOLDER):
            fs.mkdir(POLICY_FOLDER, parents=False, acl=POLICY_FOLDER_SDDL)  # nothing if it exists
            if not _trusted(host, POLICY_FOLDER):
                raise _untrusted(POLICY_FOLDER)
        fs.write_bytes(temp, document.encode("utf-8"))  # FileMode.CreateNew: a fresh name
        fs.set_acl(temp, POLICY_FILE_SDDL)
        if fs.exists(POLICY_FILE):
            fs.replace(temp, POLICY_FILE)
            fs.set_acl(POLICY_FILE, POLICY_FILE_SDDL)  # File.Replace keeps the old file's ACL
        else:
            fs.rename(temp, POLICY_FILE)
    except PowerLoss:
        machine_on = False  # nothing of the script's finally runs
        raise
    except FsError as exc:
        if exc.kind is not FsErrorKind.SHARING_VIOLATION:
            raise  # anything else is a bug in the twin's model, not a Windows answer
        raise _error(
            "DdpermPolicyLocked",
            f"The policy cache '{POLICY_FILE}' is in use by another program; the old cache "
            "is unchanged. Retry.",
            "ResourceBusy",
        ) from None
    finally:
        if machine_on and fs.exists(temp):
            fs.remove(temp)
    return {"path": POLICY_FILE, **inner, "sha256": sha256}


def _untrusted(path: str) -> ErrorRecord:
    return _error("DdpermPolicyUntrusted", f"Refused: '{path}' {_UNTRUSTED}", "SecurityError")
