"""Windows containers data: "delete all Windows containers data" of the privileged helper.

``delete_data`` empties the data root the helper owns, ``%ProgramData%\\Docker``. The root is
derived on the host and never taken from the caller. The script refuses (``HostError``)
while the engine is not Stopped (``DdpermEngineRunning``), when any component of the root
is a junction or symbolic link (``DdpermReparsePoint``), and when the root's owner or ACL
lets a non-administrator write or re-permission it, as when a user pre-created it
(``DdpermUnsafeAcl``, CVE-2025-3224).

Inside the root, links are removed themselves and never followed: a junction or symbolic
link is deleted as a link, its target untouched (scriptcs-contrib/svm #48, Delapp #6).
A file with more than one name (hardlink) loses only the name inside the root; the data
lives on under its other names, and its attributes are never changed, so a read-only one
is refused and reported (CVE-2020-10665 needed a privileged *write* through a hardlink;
this job never writes to or re-permissions a file). Whatever Windows refuses for one entry
is reported and the walk goes on: files in use or denied (Windows PowerShell 5.1 opens
each file to tell a hardlink, so one an administrator may not read is refused too), paths
over MAX_PATH (5.1 has no long paths; PowerShell 7 does), and every folder left
non-empty. A folder inside the root that a non-administrator owns or may write is not
entered (``UnsafeAcl``): only in folders nobody else can change is the walk free of link
swaps. The root itself is kept, so no user can pre-create it again.
"""

from __future__ import annotations

import enum

from pydantic import Field

from ddperm.components.base import WindowsContainersGated
from ddperm.errors import PolicyError
from ddperm.model import HostModel

# The script's mandatory [ValidateSet] token: the host refuses to run without it too.
CONFIRMATION = "DeleteAllWindowsContainersData"


class RefusalReason(str, enum.Enum):
    """Why an item under the root was left in place."""

    IN_USE = "InUse"  # open elsewhere without delete sharing
    ACCESS_DENIED = "AccessDenied"
    READ_ONLY_HARDLINK = "ReadOnlyHardlink"  # clearing the flag would change the other names
    NOT_EMPTY = "NotEmpty"  # a folder that still holds refused items
    UNSAFE_ACL = "UnsafeAcl"  # a folder a non-administrator may write: left as it is
    PATH_TOO_LONG = "PathTooLong"  # over MAX_PATH in Windows PowerShell 5.1 (long paths off)
    FAILED = "Failed"  # Windows refused it for another reason


class RefusedItem(HostModel):
    """One file, link or folder that was left in place, and why."""

    path: str = Field(description="Full path of the item left in place.")
    reason: RefusalReason = Field(description="Why it was left in place.")


class DeleteReport(HostModel):
    """What ``delete_data`` removed and what it left, with why."""

    root: str = Field(description=r"The data root, %ProgramData%\Docker (kept itself).")
    root_existed: bool = Field(description="False when there was no root, so nothing to do.")
    files_deleted: int = Field(
        description="Files deleted (links and hardlinked files are listed apart)."
    )
    directories_deleted: int = Field(description="Emptied folders deleted.")
    bytes_freed: int = Field(description="Total size in bytes of the files deleted.")
    links_removed: list[str] = Field(
        description="Junctions and symbolic links removed as links (targets untouched)."
    )
    hardlinks_unlinked: list[str] = Field(
        description="Files with other names whose name inside the root was removed (their "
        "data lives on under the other names)."
    )
    refused: list[RefusedItem] = Field(description="Items left in place, with the reason.")

    @property
    def complete(self) -> bool:
        """True when nothing is left under the root."""
        return not self.refused


class WindowsContainersComponent(WindowsContainersGated):
    """``host.windows_containers``: the Windows containers data the helper owns."""

    def delete_data(self, *, confirm: bool = False) -> DeleteReport:
        """Delete everything under ``%ProgramData%\\Docker`` (see the module docstring).

        Args:
            confirm: must be exactly ``True``: every Windows container, image and volume
                is removed. Anything else is refused before anything runs.

        Returns:
            What was removed and what was refused (``complete`` when nothing is left).

        Raises:
            PolicyError: ``confirm`` is not ``True``, Windows containers are disabled on
                this host, or the script fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermEngineRunning`` (stop the engine first),
                ``DdpermReparsePoint`` or ``DdpermSystemPath`` on the root's path, or
                ``DdpermUnsafeAcl`` (a non-administrator may change the root).
            TransportError: the host could not be reached; not retried (destructive).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``DeleteReport``.
        """
        self._require_enabled()
        if confirm is not True:
            raise PolicyError(
                "delete_data removes every Windows container, image and volume; pass "
                f"confirm=True to proceed (got {confirm!r}); nothing was deleted"
            )
        return self._executor.call(
            "containers_delete_data", DeleteReport, {"Confirmation": CONFIRMATION}
        )
