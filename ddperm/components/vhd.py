"""``host.vhd``: DockerDesktopVM's disk: its size, and moving it.

``move(destination)`` takes a folder (the file keeps its name DockerDesktop.vhdx) or a
full ``.vhdx`` path. The VM must be Off. Within one volume the file is renamed; across
volumes it is copied, verified, the VM repointed, and only then the original deleted. Any
failure undoes every step. The destination is checked by ``guard.check_path`` here and
re-checked on the host for junctions and symbolic links. A VM with checkpoints is refused
(``DdpermVMHasCheckpoints``): its current disk is then a differencing .avhdx over the data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ddperm import guard
from ddperm.components.base import Component
from ddperm.components.vm import VMInfo
from ddperm.model import HostModel


class VHDSize(HostModel):
    """Get-VHD's numbers, in bytes: ``virtual_size`` (Size) is what the guest sees,
    ``file_size`` (FileSize) what the file takes on the host, ``minimum_size`` the
    smallest it can be shrunk to (None until Hyper-V has computed it)."""

    path: str = Field(description="Full path of the disk file.")
    format: Literal["VHD", "VHDX", "VHDSet"] = Field(description="Get-VHD's VhdFormat.")
    type: Literal["Fixed", "Dynamic", "Differencing"] = Field(description="Get-VHD's VhdType.")
    virtual_size: int = Field(description="Size the guest sees, in bytes (Get-VHD Size).")
    file_size: int = Field(description="Bytes the file takes on the host (Get-VHD FileSize).")
    minimum_size: int | None = Field(
        description="Smallest size it can be shrunk to, in bytes; None until Hyper-V has "
        "computed it."
    )
    block_size: int = Field(description="Block size in bytes (Get-VHD BlockSize).")
    logical_sector_size: int = Field(description="Logical sector size in bytes (512 or 4096).")
    physical_sector_size: int = Field(description="Physical sector size in bytes (512 or 4096).")
    attached: bool = Field(description="Whether the disk is attached (mounted) on the host.")


class VHDMove(HostModel):
    """Where the disk went and how."""

    source: str = Field(description="Full path of the disk before the move.")
    destination: str = Field(description="Full path of the disk after the move.")
    method: Literal["rename", "copy", "none"] = Field(
        description='"rename" (same volume), "copy" (copy, verify, delete the original) or '
        '"none" (it already was there).'
    )
    vm: VMInfo = Field(description="The VM, now pointing at ``destination``.")


class VHDComponent(Component):
    """``host.vhd``: the VM's DockerDesktop.vhdx."""

    def size(self) -> VHDSize:
        """The size of DockerDesktopVM's disk, as Get-VHD reports it.

        Returns:
            Virtual size, bytes on disk, minimum size and the disk's layout.

        Raises:
            HostError: ``DdpermVMNotFound``, ``DdpermVMDiskCount`` (not exactly one disk),
                or Get-VHD failed (e.g. the file is missing).
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VHDSize``.
        """
        return self._executor.call("vhd_size", VHDSize, {"VMName": guard.VM_NAME})

    def move(self, destination: str) -> VHDMove:
        """Move the disk to ``destination`` (a folder or a .vhdx path) and repoint the VM.

        Args:
            destination: a folder (the file keeps the name DockerDesktop.vhdx) or a full
                path ending in ``.vhdx``.

        Returns:
            Source, destination, the method used, and the repointed VM.

        Raises:
            PolicyError: ``destination`` is not a path the guard accepts, or the script
                fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermVMNotOff``, ``DdpermVMNotFound``, ``DdpermVMDiskCount``,
                ``DdpermDestinationExists``, ``DdpermHardLink``, ``DdpermCopyMismatch``, or
                a refused path (``DdpermUnsafePath``, ``DdpermReparsePoint``,
                ``DdpermSystemPath``, ``DdpermUnsafeAcl``); every step is undone.
            TransportError: the host could not be reached; not retried (destructive).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VHDMove``.
        """
        checked = guard.check_path(destination, what="destination")
        params = {"VMName": guard.VM_NAME, "Destination": checked}
        return self._executor.call("vhd_move", VHDMove, params)
