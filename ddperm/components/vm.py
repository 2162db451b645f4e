"""``host.vm``: the one Hyper-V VM ddperm manages, DockerDesktopVM.

``create(spec)`` makes it with a new DockerDesktop.vhdx in the spec's data folder (and a
boot ISO when given) and leaves nothing behind when it fails; ``start()`` and ``stop()`` are
ensure-style and say whether anything changed; ``destroy()`` removes it and its disk
(refusing if any link is on the disk's path, or if it has checkpoints:
``DdpermVMHasCheckpoints``); ``info()`` is None when it does not exist. Every call is pinned to
``DockerDesktopVM`` here and again by the scripts' ``[ValidateSet('DockerDesktopVM')]``.
"""

from __future__ import annotations

import enum

from pydantic import Field, field_validator

from ddperm import guard
from ddperm.components.base import Component
from ddperm.errors import PolicyError
from ddperm.model import HostModel
from ddperm.runner import Params

DEFAULT_DATA_FOLDER = r"C:\ProgramData\DockerDesktop\vm-data"
DEFAULT_STOP_TIMEOUT = 20  # seconds; Docker Desktop's MobyLinux waited about this long
MAX_STOP_TIMEOUT = 600
GIB = 2**30
MIB = 2**20


class VMState(str, enum.Enum):
    """Hyper-V's ``Microsoft.HyperV.PowerShell.VMState`` names (scripts emit the name)."""

    OTHER = "Other"
    RUNNING = "Running"
    OFF = "Off"
    STOPPING = "Stopping"
    SAVED = "Saved"
    PAUSED = "Paused"
    STARTING = "Starting"
    RESET = "Reset"
    SAVING = "Saving"
    PAUSING = "Pausing"
    RESUMING = "Resuming"
    FAST_SAVED = "FastSaved"
    FAST_SAVING = "FastSaving"
    FORCE_SHUTDOWN = "ForceShutdown"
    FORCE_REBOOT = "ForceReboot"
    HIBERNATED = "Hibernated"
    COMPONENT_SERVICING = "ComponentServicing"
    RUNNING_CRITICAL = "RunningCritical"
    OFF_CRITICAL = "OffCritical"
    STOPPING_CRITICAL = "StoppingCritical"
    SAVED_CRITICAL = "SavedCritical"
    PAUSED_CRITICAL = "PausedCritical"
    STARTING_CRITICAL = "StartingCritical"
    RESET_CRITICAL = "ResetCritical"
    SAVING_CRITICAL = "SavingCritical"
    PAUSING_CRITICAL = "PausingCritical"
    RESUMING_CRITICAL = "ResumingCritical"
    FAST_SAVED_CRITICAL = "FastSavedCritical"
    FAST_SAVING_CRITICAL = "FastSavingCritical"


class VMSpec(HostModel):
    """What a caller may choose: CPUs, memory, disk size, the data folder and the ISO the VM
    boots from (nothing else).

    Memory is a multiple of 2 MiB (Hyper-V's rule) and the disk a multiple of 1 MiB.
    The data folder goes through ``guard.check_path``; so does ``boot_iso`` (an ``.iso``
    file, only read, so it may be under Program Files, where Docker Desktop keeps
    ``resources\\docker-desktop.iso``; the host refuses one a non-administrator could
    change). A ``vm_name`` other than ``DockerDesktopVM`` raises ``PolicyError``.
    """

    vm_name: str = guard.VM_NAME
    cpus: int = Field(default=2, ge=1, le=64, strict=True)
    memory_bytes: int = Field(
        default=2 * GIB, ge=GIB, le=256 * GIB, multiple_of=2 * MIB, strict=True
    )
    disk_size_bytes: int = Field(
        default=64 * GIB, ge=GIB, le=64 * 1024 * GIB, multiple_of=MIB, strict=True
    )
    data_folder: str = DEFAULT_DATA_FOLDER
    boot_iso: str | None = None

    @field_validator("vm_name", mode="plain")
    @classmethod
    def _pin_name(cls, value: object) -> str:
        return guard.pin_vm_name(value)

    @field_validator("data_folder", mode="plain")
    @classmethod
    def _check_folder(cls, value: object) -> str:
        return guard.check_path(value, what="data folder")

    @field_validator("boot_iso", mode="plain")
    @classmethod
    def _check_iso(cls, value: object) -> str | None:
        if value is None:
            return None
        path = guard.check_path(value, what="boot ISO", read_only=True)
        if not path.lower().endswith(".iso"):
            raise PolicyError(f"boot ISO must be an .iso file: {path!r}")
        return path


class VMInfo(HostModel):
    """DockerDesktopVM as Hyper-V reports it."""

    name: str
    vm_id: str
    state: VMState
    generation: int
    processor_count: int
    memory_startup_bytes: int
    vhd_path: str | None


class VMInfoResult(HostModel):
    vm: VMInfo | None


class VMChange(HostModel):
    """What an ensure-style start or stop did; ``forced`` when the VM was turned off."""

    changed: bool
    forced: bool
    vm: VMInfo


class VMDestroyed(HostModel):
    """``existed`` False: there was nothing to destroy. Disks not named DockerDesktop.vhdx
    are detached but kept."""

    existed: bool
    deleted_files: list[str]
    kept_files: list[str]


def _pinned() -> dict[str, str]:
    return {"VMName": guard.pin_vm_name(guard.VM_NAME)}


class VMComponent(Component):
    """``host.vm``: DockerDesktopVM's lifecycle."""

    def info(self) -> VMInfo | None:
        """The VM, or None when it does not exist."""
        return self._executor.call("vm_info", VMInfoResult, _pinned()).vm

    def create(self, spec: VMSpec | None = None) -> VMInfo:
        """Create the VM (Off) and its disk, booting first from ``spec.boot_iso`` when set;
        on failure nothing of it remains."""
        if spec is None:
            spec = VMSpec()
        if not isinstance(spec, VMSpec):
            raise PolicyError(f"create() takes a VMSpec, not {type(spec).__name__}")
        spec = VMSpec.model_validate(dict(spec))  # again: model_construct() skips validation
        iso = {} if spec.boot_iso is None else {"BootIso": spec.boot_iso}
        params: Params = {
            **_pinned(),
            "ProcessorCount": spec.cpus,
            "MemoryStartupBytes": spec.memory_bytes,
            "DiskSizeBytes": spec.disk_size_bytes,
            "DataFolder": spec.data_folder,
            **iso,
        }
        return self._executor.call("vm_create", VMInfo, params)

    def start(self) -> VMChange:
        """Ensure the VM is Running (from Off, Saved or Paused)."""
        return self._executor.call("vm_start", VMChange, _pinned())

    def stop(self, force: bool = False, timeout: int = DEFAULT_STOP_TIMEOUT) -> VMChange:
        """Ensure the VM is Off: a guest shutdown within ``timeout`` seconds, through the
        guest's Shutdown integration service. Without ``force`` the VM is never turned off:
        ``DdpermShutdownUnavailable`` (no usable shutdown service), ``DdpermShutdownFailed``
        or ``DdpermShutdownTimeout``. With ``force`` it is turned off in those cases (and when
        it is Saved or Paused), and ``forced`` says so. Hyper-V refuses the turn-off while the
        guest is still in a shutdown it accepted (``DdpermTurnOffRefused``); stop again once
        that shutdown ended."""
        if type(force) is not bool:
            raise PolicyError(f"force must be True or False, not {force!r}")
        if type(timeout) is not int or not 1 <= timeout <= MAX_STOP_TIMEOUT:
            raise PolicyError(f"timeout must be whole seconds from 1 to {MAX_STOP_TIMEOUT}")
        params: Params = {**_pinned(), "Force": force, "TimeoutSeconds": timeout}
        return self._executor.call("vm_stop", VMChange, params)

    def destroy(self) -> VMDestroyed:
        """Remove the VM (it must be Off) and delete its DockerDesktop.vhdx."""
        return self._executor.call("vm_destroy", VMDestroyed, _pinned())
