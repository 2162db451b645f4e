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

from ddperm.components.base import WindowsContainersGated
from ddperm.errors import PolicyError
from ddperm.model import HostModel

# The script's mandatory [ValidateSet] token: the host refuses to run without it too.
CONFIRMATION = "DeleteAllWindowsContainersData"


class RefusalReason(str, enum.Enum):
    IN_USE = "InUse"  # open elsewhere without delete sharing
    ACCESS_DENIED = "AccessDenied"
    READ_ONLY_HARDLINK = "ReadOnlyHardlink"  # clearing the flag would change the other names
    NOT_EMPTY = "NotEmpty"  # a folder that still holds refused items
    UNSAFE_ACL = "UnsafeAcl"  # a folder a non-administrator may write: left as it is
    PATH_TOO_LONG = "PathTooLong"  # over MAX_PATH in Windows PowerShell 5.1 (long paths off)
    FAILED = "Failed"  # Windows refused it for another reason


class RefusedItem(HostModel):
    path: str
    reason: RefusalReason


class DeleteReport(HostModel):
    """What ``delete_data`` removed and what it left, with why."""

    root: str
    root_existed: bool
    files_deleted: int
    directories_deleted: int
    bytes_freed: int
    links_removed: list[str]
    hardlinks_unlinked: list[str]
    refused: list[RefusedItem]

    @property
    def complete(self) -> bool:
        """True when nothing is left under the root."""
        return not self.refused


class WindowsContainersComponent(WindowsContainersGated):
    """``host.windows_containers``: the Windows containers data the helper owns."""

    def delete_data(self, *, confirm: object = None) -> DeleteReport:
        """Delete everything under ``%ProgramData%\\Docker``; requires ``confirm=True``."""
        self._require_enabled()
        if confirm is not True:
            raise PolicyError(
                "delete_data removes every Windows container, image and volume; pass "
                f"confirm=True to proceed (got {confirm!r}); nothing was deleted"
            )
        return self._executor.call(
            "containers_delete_data", DeleteReport, {"Confirmation": CONFIRMATION}
        )
