"""The hosts-file entry for kubernetes.docker.internal (see ddperm.hostsfile for the rules).

``ensure()`` reads the file's bytes (hosts_read.ps1), plans the new bytes in Python
(``ddperm.hostsfile.plan``) and hands them to hosts_write.ps1, which swaps them in
only if the file still has the hash that was read, through a temporary file and
``File.Replace`` (ACL and attributes kept, the old file kept as a backup).
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from ddperm import hostsfile
from ddperm.components.base import Component
from ddperm.errors import OutputError, PolicyError
from ddperm.model import HostModel


class HostsFileStatus(HostModel):
    """What Get-DdpermHostsStatus reports (hosts_status.ps1 and health.ps1)."""

    path: str
    exists: bool
    readonly: bool
    size: int
    sha256: str
    has_bom: bool
    line_ending: Literal["CRLF", "LF"]
    sections: int
    in_sync: bool
    entries: int
    docker_sections: int
    unsupported_encoding: bool

    @property
    def ok(self) -> bool:
        """ddperm's section is in place exactly as ensure would leave it."""
        return self.in_sync and not self.unsupported_encoding


class HostsFileRead(HostModel):
    """The hosts file's bytes as hosts_read.ps1 returns them."""

    path: str
    exists: bool
    readonly: bool
    sha256: str
    content_base64: str


class HostsFileChange(HostModel):
    """What ensure did: ``changed`` is False when not a byte had to change."""

    changed: bool
    sha256: str
    size: int
    backup_path: str | None


class HostsFileComponent(Component):
    def status(self) -> HostsFileStatus:
        """The hosts file's state, without changing it.

        ``HostError`` (DdpermHostsLocked, DdpermHostsAccessDenied, DdpermHostsTooLarge) when
        the file cannot be read.
        """
        return self._executor.call("hosts_status", HostsFileStatus)

    def ensure(self) -> HostsFileChange:
        """Keep ``127.0.0.1 kubernetes.docker.internal`` once, in ddperm's own section.

        Raises ``HostError`` (file untouched) with DdpermHostsReadOnly, DdpermHostsLocked,
        DdpermHostsAccessDenied, DdpermHostsTooLarge or DdpermHostsChanged (another
        program edited the file meanwhile; its edit is kept), and ``PolicyError`` for a
        UTF-16/UTF-32 file, which ddperm does not edit. DdpermHostsMissing (never seen in
        the twin) means Windows' replace failed halfway and the original could not be put
        back: its message names the backup file to rename.
        """
        read = self._executor.call("hosts_read", HostsFileRead)
        try:
            data = base64.b64decode(read.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise OutputError(f"hosts_read: content is not base64: {exc}") from exc
        if hostsfile.sha256_hex(data) != read.sha256:
            raise OutputError("hosts_read: the content does not match its SHA-256")
        try:
            new = hostsfile.plan(data)
        except hostsfile.UnsupportedHostsFile as exc:
            raise PolicyError(f"{read.path}: {exc}; nothing was changed") from exc
        if read.exists and new == data:
            return HostsFileChange(
                changed=False, sha256=read.sha256, size=len(data), backup_path=None
            )
        params = {
            "ContentBase64": base64.b64encode(new).decode("ascii"),
            "ExpectedSha256": read.sha256,
        }
        return self._executor.call("hosts_write", HostsFileChange, params)
