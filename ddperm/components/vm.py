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

    vm_name: str = Field(
        default=guard.VM_NAME, description="Always DockerDesktopVM; any other name is refused."
    )
    cpus: int = Field(
        default=2, ge=1, le=64, strict=True, description="Virtual processors, 1 to 64."
    )
    memory_bytes: int = Field(
        default=2 * GIB,
        ge=GIB,
        le=256 * GIB,
        multiple_of=2 * MIB,
        strict=True,
        description="Startup (static) memory in bytes: 1 to 256 GiB, a multiple of 2 MiB.",
    )
    disk_size_bytes: int = Field(
        default=64 * GIB,
        ge=GIB,
        le=64 * 1024 * GIB,
        multiple_of=MIB,
        strict=True,
        description="Virtual size of the new dynamic DockerDesktop.vhdx in bytes: 1 GiB to "
        "64 TiB, a multiple of 1 MiB.",
    )
    data_folder: str = Field(
        default=DEFAULT_DATA_FOLDER,
        description="Windows folder that gets DockerDesktop.vhdx; an absolute path the guard "
        "accepts, whose existing folders only administrators may change, and which no one "
        "but SYSTEM and Administrators may read (the disk holds the user's files).",
    )
    boot_iso: str | None = Field(
        default=None,
        description="Windows path of an .iso the VM boots from first (Generation 2 firmware "
        "boot order); None: no DVD drive.",
    )

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

    name: str = Field(description="The VM's name: DockerDesktopVM.")
    vm_id: str = Field(description="Hyper-V's VMId, a GUID.")
    state: VMState = Field(description="Hyper-V's state name, e.g. Running or Off.")
    generation: int = Field(description="Hyper-V VM generation (ddperm creates generation 2).")
    processor_count: int = Field(description="Number of virtual processors.")
    memory_startup_bytes: int = Field(description="Startup memory in bytes.")
    vhd_path: str | None = Field(
        description="Path of the VM's first hard disk; None when it has no disk attached."
    )


class VMInfoResult(HostModel):
    """What ``vm_info.ps1`` reports: the VM, or None when it does not exist."""

    vm: VMInfo | None = Field(description="DockerDesktopVM, or None when it does not exist.")


class VMChange(HostModel):
    """What an ensure-style start or stop did; ``forced`` when the VM was turned off."""

    changed: bool = Field(description="False when the VM already was in the wanted state.")
    forced: bool = Field(
        description="True when stop turned the VM off (or discarded its saved state) instead "
        "of a guest shutdown; always False for start."
    )
    vm: VMInfo = Field(description="The VM after the change.")


class VMDestroyed(HostModel):
    """``existed`` False: there was nothing to destroy. Disks not named DockerDesktop.vhdx
    are detached but kept."""

    existed: bool = Field(description="False when there was no VM to destroy.")
    deleted_files: list[str] = Field(description="Disk files deleted (DockerDesktop.vhdx).")
    kept_files: list[str] = Field(
        description="Disk files detached but kept (any not named DockerDesktop.vhdx)."
    )


def _pinned() -> dict[str, str]:
    return {"VMName": guard.pin_vm_name(guard.VM_NAME)}


class VMComponent(Component):
    """``host.vm``: DockerDesktopVM's lifecycle."""

    def info(self) -> VMInfo | None:
        """DockerDesktopVM as Hyper-V reports it.

        Returns:
            The VM, or None when it does not exist.

        Raises:
            HostError: Hyper-V could not be asked (``ObjectNotFound,...GetVM`` when the
                caller may not manage VMs or vmms is stopped), ``DdpermDuplicateVM``, or
                ``DdpermVMNameMismatch``.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VMInfoResult``.
        """
        return self._executor.call("vm_info", VMInfoResult, _pinned()).vm

    def create(self, spec: VMSpec | None = None) -> VMInfo:
        """Create the VM (Off) and its disk, booting first from ``spec.boot_iso`` when set;
        on failure nothing of it remains.

        Args:
            spec: CPUs, memory, disk size, data folder and boot ISO; the defaults when None.

        Returns:
            The new VM, Off.

        Raises:
            PolicyError: ``spec`` is not a valid ``VMSpec`` (validated again here), or the
                script fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermVMExists``, ``DdpermDiskExists``, a refused data folder or
                boot ISO (``DdpermUnsafePath``, ``DdpermReparsePoint``, ``DdpermSystemPath``,
                ``DdpermUnsafeAcl``, ``DdpermBootIsoNotFound``), or a Hyper-V failure;
                nothing is left behind.
            TransportError: the host could not be reached; not retried (destructive).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VMInfo``.
        """
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
        """Ensure the VM is Running (from Off, Saved or Paused).

        Returns:
            What changed (``changed`` False when it was already Running) and the VM.

        Raises:
            HostError: ``DdpermVMNotFound``, or Hyper-V refused to start it (e.g. a
                transitional state, no hypervisor).
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VMChange``.
        """
        return self._executor.call("vm_start", VMChange, _pinned())

    def stop(self, force: bool = False, timeout: int = DEFAULT_STOP_TIMEOUT) -> VMChange:
        """Ensure the VM is Off.

        A guest shutdown within ``timeout`` seconds, through the guest's Shutdown integration
        service. Without ``force`` the VM is never turned off: ``DdpermShutdownUnavailable``
        (no usable shutdown service), ``DdpermShutdownFailed`` or ``DdpermShutdownTimeout``.
        With ``force`` it is turned off in those cases (and when it is Saved or Paused), and
        ``forced`` says so. Hyper-V refuses the turn-off while the guest is still in a
        shutdown it accepted (``DdpermTurnOffRefused``); stop again once that shutdown ended.

        Args:
            force: turn the VM off (or discard its saved state) when needed.
            timeout: whole seconds, 1 to 600, to wait for the guest shutdown.

        Returns:
            What changed (``forced`` when it was turned off) and the VM.

        Raises:
            PolicyError: ``force`` is not a bool or ``timeout`` not 1 to 600 whole seconds,
                or the script fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermVMNotFound``, ``DdpermShutdownUnavailable``,
                ``DdpermShutdownFailed``, ``DdpermShutdownTimeout``, ``DdpermStopNeedsForce``,
                ``DdpermTurnOffRefused``.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VMChange``.
        """
        if type(force) is not bool:
            raise PolicyError(f"force must be True or False, not {force!r}")
        if type(timeout) is not int or not 1 <= timeout <= MAX_STOP_TIMEOUT:
            raise PolicyError(f"timeout must be whole seconds from 1 to {MAX_STOP_TIMEOUT}")
        params: Params = {**_pinned(), "Force": force, "TimeoutSeconds": timeout}
        return self._executor.call("vm_stop", VMChange, params)

    def destroy(self) -> VMDestroyed:
        """Remove the VM (it must be Off) and delete its DockerDesktop.vhdx.

        Returns:
            Whether it existed, and which disk files were deleted or only detached.

        Raises:
            HostError: ``DdpermVMNotOff``, a disk path with a link or unsafe component
                (``DdpermReparsePoint``, ``DdpermUnsafePath``, ``DdpermSystemPath``;
                nothing removed), or a Hyper-V failure.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached; not retried (destructive).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``VMDestroyed``.
        """
        return self._executor.call("vm_destroy", VMDestroyed, _pinned())
