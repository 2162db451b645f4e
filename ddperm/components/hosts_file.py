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

from pydantic import Field

from ddperm import hostsfile
from ddperm.components.base import Component
from ddperm.errors import OutputError, PolicyError
from ddperm.model import HostModel


class HostsFileStatus(HostModel):
    """What Get-DdpermHostsStatus reports (hosts_status.ps1 and health.ps1)."""

    path: str = Field(description=r"Full path of the hosts file (System32\drivers\etc\hosts).")
    exists: bool = Field(description="Whether the file exists.")
    readonly: bool = Field(description="Whether the file has the read-only attribute.")
    size: int = Field(description="File size in bytes (0 when missing).")
    sha256: str = Field(description="SHA-256 of the file's bytes, lowercase hex.")
    has_bom: bool = Field(description="Whether the file starts with a UTF-8 byte order mark.")
    line_ending: Literal["CRLF", "LF"] = Field(
        description="The file's line ending: LF only when bare LF lines outnumber CRLF ones."
    )
    sections: int = Field(description="How many ddperm sections ('# Added by ddperm') it has.")
    in_sync: bool = Field(
        description="ddperm's section is first and the only one: ensure would change nothing."
    )
    entries: int = Field(
        description="Active lines (outside comments) naming kubernetes.docker.internal."
    )
    docker_sections: int = Field(
        description="Sections Docker Desktop added ('# Added by Docker Desktop' or "
        "'# Added by Docker for Windows'); ddperm never edits them."
    )
    unsupported_encoding: bool = Field(
        description="The file is UTF-16 or UTF-32 (by its byte order mark); ddperm does not "
        "edit it."
    )

    @property
    def ok(self) -> bool:
        """ddperm's section is in place exactly as ensure would leave it."""
        return self.in_sync and not self.unsupported_encoding


class HostsFileRead(HostModel):
    """The hosts file's bytes as hosts_read.ps1 returns them."""

    path: str = Field(description="Full path of the hosts file.")
    exists: bool = Field(description="Whether the file exists.")
    readonly: bool = Field(description="Whether the file has the read-only attribute.")
    sha256: str = Field(description="SHA-256 of the bytes, lowercase hex.")
    content_base64: str = Field(description="The file's bytes, base64 (empty when missing).")


class HostsFileChange(HostModel):
    """What ensure did: ``changed`` is False when not a byte had to change."""

    changed: bool = Field(description="False when not a byte had to change.")
    sha256: str = Field(description="SHA-256 of the file's bytes now, lowercase hex.")
    size: int = Field(description="File size in bytes now.")
    backup_path: str | None = Field(
        description="Where the previous file was kept (hosts.ddperm.bak); None when nothing "
        "was written or there was no file before."
    )


class HostsFileComponent(Component):
    """``host.hosts_file``: ddperm's kubernetes.docker.internal entry in the hosts file."""

    def status(self) -> HostsFileStatus:
        """The hosts file's state, without changing it.

        Returns:
            What the file holds and whether ``ensure()`` would change it (``in_sync``).

        Raises:
            HostError: the file cannot be read: ``DdpermHostsLocked``,
                ``DdpermHostsAccessDenied``, ``DdpermHostsTooLarge``.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``HostsFileStatus``.
        """
        return self._executor.call("hosts_status", HostsFileStatus)

    def ensure(self) -> HostsFileChange:
        """Keep ``127.0.0.1 kubernetes.docker.internal`` once, in ddperm's own section.

        Returns:
            Whether the file changed, its new hash and size, and the backup's path.

        Raises:
            PolicyError: the file is UTF-16/UTF-32, which ddperm does not edit, or a script
                fails its SHA-256 pin; nothing was changed.
            HostError: the file is untouched: ``DdpermHostsReadOnly``,
                ``DdpermHostsLocked``, ``DdpermHostsAccessDenied``, ``DdpermHostsTooLarge``,
                ``DdpermReparsePoint``, or ``DdpermHostsChanged`` (another program edited
                the file meanwhile; its edit is kept, run ensure again). Only
                ``DdpermHostsMissing`` leaves the file changed: Windows' replace failed
                halfway and the original could not be put back; its message names the
                backup file to rename.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: an answer did not match its model, or the bytes read do not
                match their SHA-256.
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
