"""Twin of hosts_status.ps1, hosts_read.ps1, hosts_write.ps1 and lib/HostsFile.ps1.

The write is modelled step by step as the script does it: the new bytes go to a
temporary file beside the hosts file, then ``File.Replace`` swaps it in (keeping the
ACL and attributes, the old file becoming the backup). A power cut
(``fs.power_cut_after``) can stop it at any step: the hosts file is then old or new,
never a prefix. ReplaceFile can fail after renaming the hosts file to the backup name
(error 1177, ``fs.fail_next_replace``); the script renames it back before it reports.
"""

from __future__ import annotations

import base64
import binascii
import re

from ddperm import hostsfile
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import HOSTS_PATH, FakeHost
from ddperm.testing.fs import ADMINISTRATORS, FsError, FsErrorKind, parent_of

TEMP_PATH = HOSTS_PATH + ".ddperm.tmp"
BACKUP_PATH = HOSTS_PATH + ".ddperm.bak"
# hosts_write.ps1's ValidatePattern attributes (as shown in errors) and their fullmatch twins.
_BASE64_ATTR, _BASE64 = r"(?-i)^[A-Za-z0-9+/]*={0,2}\z", re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64_MAX = 11_184_812  # ValidateLength: base64 of hostsfile.MAX_BYTES
_ARRAY_PARAMETERS = frozenset({"AllowedRegistries"})  # the [string[]] ones among ours
_SHA256_ATTR, _SHA256 = r"(?-i)^[0-9a-f]{64}\z", re.compile(r"[0-9a-f]{64}")
_IO_EXCEPTIONS = (  # what .NET reports as a plain IOException (the script's "locked")
    FsErrorKind.SHARING_VIOLATION,
    FsErrorKind.REPLACEMENT_NOT_MOVED,
    FsErrorKind.REPLACED_IS_BACKUP,
)


def _error(fqid: str, message: str, category: str) -> ErrorRecord:
    """An error hosts_*.ps1 throw themselves (New-DdpermHostsError)."""
    return ErrorRecord(message, fqid, category, HOSTS_PATH, "System.InvalidOperationException")


def _fs_error(exc: FsError) -> ErrorRecord:
    """What hosts_read/hosts_write throw for a file-system failure."""
    if exc.kind in _IO_EXCEPTIONS:
        return _error(
            "DdpermHostsLocked",
            f"The hosts file '{HOSTS_PATH}' is locked by another program (antivirus, an "
            "editor); nothing was changed. Close it and retry.",
            "ResourceBusy",
        )
    if exc.kind is FsErrorKind.ACCESS_DENIED:
        return _access_denied()
    raise exc  # anything else is a bug in the twin's model, not a Windows answer


def _access_denied() -> ErrorRecord:
    return _error(
        "DdpermHostsAccessDenied",
        f"Access to the hosts file '{HOSTS_PATH}' is denied; run ddperm elevated. "
        "Nothing was changed.",
        "PermissionDenied",
    )


def caller_may(host: FakeHost, path: str, *, write: bool) -> bool:
    """The caller's effective access to ``path`` (a non-elevated token has no Administrators)."""
    sids = {host.caller.sid, *host.caller.groups}
    if not host.caller.elevated:
        sids.discard(ADMINISTRATORS)
    wanted = 0x2 if write else 0x1  # FILE_WRITE_DATA (FILE_ADD_FILE) / FILE_READ_DATA
    return bool(host.fs.access(path, sids) & wanted)


def _read(host: FakeHost) -> bytes | None:
    """Twin of Read-DdpermHostsBytes: the bytes, or None when there is no hosts file."""
    if not host.fs.exists(HOSTS_PATH, follow=True):
        return None
    if not caller_may(host, HOSTS_PATH, write=False):
        raise _access_denied()
    try:
        data = host.fs.read_bytes(HOSTS_PATH)
    except FsError as exc:
        raise _fs_error(exc) from None
    if len(data) > hostsfile.MAX_BYTES:
        raise _error(
            "DdpermHostsTooLarge",
            f"The hosts file '{HOSTS_PATH}' is {len(data)} bytes, more than ddperm edits "
            f"({hostsfile.MAX_BYTES}); nothing was changed.",
            "LimitsExceeded",
        )
    return data


def _readonly(host: FakeHost) -> bool:
    return (
        host.fs.exists(HOSTS_PATH, follow=True) and host.fs.stat(HOSTS_PATH, follow=True).readonly
    )


def hosts_status(host: FakeHost) -> dict[str, object]:
    """Twin of Get-DdpermHostsStatus (for hosts_status.ps1 and health.ps1)."""
    data = _read(host)
    facts = hostsfile.facts(data or b"")
    return {
        "path": HOSTS_PATH,
        "exists": data is not None,
        "readonly": _readonly(host),
        "size": len(data or b""),
        "sha256": hostsfile.sha256_hex(data or b""),
        "has_bom": facts.has_bom,
        "line_ending": facts.line_ending,
        "sections": facts.sections,
        "in_sync": facts.in_sync,
        "entries": facts.entries,
        "docker_sections": facts.docker_sections,
        "unsupported_encoding": facts.unsupported_encoding,
    }


@handles("hosts_status")
def hosts_status_script(host: FakeHost) -> dict[str, object]:
    return hosts_status(host)


@handles("hosts_read")
def hosts_read(host: FakeHost) -> dict[str, object]:
    data = _read(host)
    return {
        "path": HOSTS_PATH,
        "exists": data is not None,
        "readonly": _readonly(host),
        "sha256": hostsfile.sha256_hex(data or b""),
        "content_base64": base64.b64encode(data or b"").decode("ascii"),
    }


def require_strings(script: str, **params: object) -> None:
    """PowerShell's binding of mandatory ``[string]`` and ``[string[]]`` parameters: a null
    array, or an empty string (null becomes one), also as an element, is refused."""
    for name, value in params.items():
        if value is None and name in _ARRAY_PARAMETERS:
            raise _binding_error(script, name, "null", "NullNotAllowed")
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if any(v is None or v == "" for v in values):
            raise _binding_error(script, name, "an empty string", "EmptyStringNotAllowed")


def _binding_error(script: str, name: str, what: str, reason: str) -> ErrorRecord:
    return ErrorRecord(
        f"Cannot bind argument to parameter '{name}' because it is {what}.",
        f"ParameterArgumentValidationError{reason},{script}",
        "InvalidData",
        name,
        "System.Management.Automation.ParameterBindingValidationException",
    )


def _validation_error(name: str, value: str, pattern: str) -> ErrorRecord:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return ErrorRecord(
        f"Cannot validate argument on parameter '{name}'. The argument \"{shown}\" does not "
        f'match the "{pattern}" pattern. Supply an argument that matches "{pattern}" and try '
        "the command again.",
        "ParameterArgumentValidationError,hosts_write",
        "InvalidData",
        name,
        "System.Management.Automation.ParameterBindingValidationException",
    )


@handles("hosts_write")
def hosts_write(host: FakeHost, ContentBase64: str, ExpectedSha256: str) -> dict[str, object]:
    """Compare-and-swap: replace the file only if it still hashes to ``ExpectedSha256``."""
    require_strings("hosts_write", ContentBase64=ContentBase64, ExpectedSha256=ExpectedSha256)
    if len(ContentBase64) > _BASE64_MAX:
        raise ErrorRecord(
            "Cannot validate argument on parameter 'ContentBase64'. The character length of the "
            f"{len(ContentBase64)} argument is too long. Shorten the character length of the "
            f'argument so it is fewer than or equal to "{_BASE64_MAX}" characters, and then try '
            "the command again.",
            "ParameterArgumentValidationError,hosts_write",
            "InvalidData",
            "ContentBase64",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    if not _BASE64.fullmatch(ContentBase64):
        raise _validation_error("ContentBase64", ContentBase64, _BASE64_ATTR)
    if not _SHA256.fullmatch(ExpectedSha256):
        raise _validation_error("ExpectedSha256", ExpectedSha256, _SHA256_ATTR)
    try:
        new = base64.b64decode(ContentBase64, validate=True)
    except binascii.Error:
        raise ErrorRecord(
            'Exception calling "FromBase64String" with "1" argument(s): "The input is not a '
            "valid Base-64 string as it contains a non-base 64 character, more than two padding "
            'characters, or an illegal character among the padding characters. "',
            "FormatException",
            "NotSpecified",
            "",
            "System.Management.Automation.MethodInvocationException",
        ) from None
    if host.fs.exists(HOSTS_PATH) and host.fs.stat(HOSTS_PATH).is_reparse_point:
        raise _error(
            "DdpermReparsePoint",
            f"Refusing the hosts file '{HOSTS_PATH}': it is a junction, symbolic link or "
            "mount point.",
            "SecurityError",
        )
    new_sha = hostsfile.sha256_hex(new)
    current = _read(host)
    current_sha = hostsfile.sha256_hex(current or b"")
    if current is not None and current_sha == new_sha:
        return {"changed": False, "sha256": new_sha, "size": len(new), "backup_path": None}
    if current_sha != ExpectedSha256:
        raise _error(
            "DdpermHostsChanged",
            f"The hosts file '{HOSTS_PATH}' changed since ddperm read it (another program "
            "edited it); nothing was written. Run ensure again.",
            "InvalidOperation",
        )
    if _readonly(host):
        raise _error(
            "DdpermHostsReadOnly",
            f"The hosts file '{HOSTS_PATH}' is read-only; nothing was changed. Clear the "
            "read-only attribute if ddperm should maintain kubernetes.docker.internal.",
            "PermissionDenied",
        )
    if not caller_may(host, parent_of(HOSTS_PATH), write=True) or not (
        current is None or caller_may(host, HOSTS_PATH, write=True)
    ):
        raise _access_denied()
    try:
        if host.fs.exists(TEMP_PATH):
            host.fs.remove(TEMP_PATH)
        host.fs.write_bytes(TEMP_PATH, new)
        if current is None:
            host.fs.rename(TEMP_PATH, HOSTS_PATH)
        else:
            host.fs.replace(TEMP_PATH, HOSTS_PATH, BACKUP_PATH)
    except FsError as exc:
        if current is not None and not host.fs.exists(HOSTS_PATH) and host.fs.exists(BACKUP_PATH):
            host.fs.rename(BACKUP_PATH, HOSTS_PATH)  # ReplaceFile 1177 left it as the backup
        if host.fs.exists(TEMP_PATH):
            host.fs.remove(TEMP_PATH)
        raise _fs_error(exc) from None
    backup = BACKUP_PATH if current is not None else None
    return {"changed": True, "sha256": new_sha, "size": len(new), "backup_path": backup}
