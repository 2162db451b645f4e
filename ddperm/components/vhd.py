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

from ddperm import guard
from ddperm.components.base import Component
from ddperm.components.vm import VMInfo
from ddperm.model import HostModel


class VHDSize(HostModel):
    """Get-VHD's numbers, in bytes: ``virtual_size`` (Size) is what the guest sees,
    ``file_size`` (FileSize) what the file takes on the host, ``minimum_size`` the
    smallest it can be shrunk to (None until Hyper-V has computed it)."""

    path: str
    format: Literal["VHD", "VHDX", "VHDSet"]
    type: Literal["Fixed", "Dynamic", "Differencing"]
    virtual_size: int
    file_size: int
    minimum_size: int | None
    block_size: int
    logical_sector_size: int
    physical_sector_size: int
    attached: bool


class VHDMove(HostModel):
    """``method``: "rename" (same volume), "copy" (copy, verify, delete) or "none"
    (already there)."""

    source: str
    destination: str
    method: Literal["rename", "copy", "none"]
    vm: VMInfo


class VHDComponent(Component):
    """``host.vhd``: the VM's DockerDesktop.vhdx."""

    def size(self) -> VHDSize:
        return self._executor.call("vhd_size", VHDSize, {"VMName": guard.VM_NAME})

    def move(self, destination: str) -> VHDMove:
        """Move the disk to ``destination`` (a folder or a .vhdx path) and repoint the VM."""
        checked = guard.check_path(destination, what="destination")
        params = {"VMName": guard.VM_NAME, "Destination": checked}
        return self._executor.call("vhd_move", VHDMove, params)
