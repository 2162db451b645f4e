"""Twin of the VM and VHDX scripts (vm_*.ps1, vhd_*.ps1) and of lib/Paths.ps1."""

from __future__ import annotations

import re

from ddperm.guard import SYSTEM_FOLDERS, VM_NAME
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import (
    DEFAULT_DATA_FOLDER,
    HYPERV_ADMINISTRATORS,
    FakeHost,
    FakeVHD,
    FakeVM,
)
from ddperm.testing.fs import (
    ADMINISTRATORS,
    FakeFileSystem,
    FsError,
    FsErrorKind,
    join,
    parent_of,
    split,
)

# lib/Paths.ps1's $DdpermSystemFolders: the guard's list, the MSI rollback folder, upgrade
# leftovers. A top-level name starting with '$' is a system location as well.
HOST_SYSTEM_FOLDERS = (*SYSTEM_FOLDERS, "\\config.msi", "\\windows.old")
_SHAPE = re.compile(r"^[A-Za-z]:\\")
_BAD = re.compile(r'[\x00-\x1f<>"|?*/]')


def _path_error(fqid: str, message: str, target: str) -> ErrorRecord:
    return ErrorRecord(message, fqid, "SecurityError", target, "System.InvalidOperationException")


def assert_safe_path(fs: FakeFileSystem, path: str, what: str = "path") -> str:
    """Twin of ``Assert-DdpermSafePath`` (lib/Paths.ps1): the full path, or the error it throws.

    DdpermUnsafePath for a bad string, DdpermReparsePoint when any existing component
    (the last one and dangling links included) is a junction or symlink, DdpermSystemPath
    when the final path lies in a system folder. Reusable by every twin that deletes or moves.
    """
    parts = [p for p in path[3:].split("\\") if p] if _SHAPE.match(path) else []
    shape_ok = bool(parts) and not _BAD.search(path) and ":" not in path[2:]
    if not shape_ok or any(
        p in (".", "..") or re.search(r"~[0-9]", p) or p[-1] in ". " for p in parts
    ):
        raise _path_error(
            "DdpermUnsafePath",
            f"The {what} is not an absolute local path ddperm may use: '{path}'.",
            path,
        )
    links = fs.reparse_points_on(path)
    if links:
        raise _path_error(
            "DdpermReparsePoint",
            f"Refusing the {what} '{path}': '{links[0]}' is a junction, symbolic link "
            "or mount point.",
            links[0],
        )
    drive, _ = split(path)
    full = join(drive, parts)
    relative = full[2:].lower()
    top = "\\" + relative[1:].split("\\")[0]
    for folder in HOST_SYSTEM_FOLDERS + ((top,) if top.startswith("\\$") else ()):
        if relative == folder or relative.startswith(folder + "\\"):
            raise _path_error(
                "DdpermSystemPath",
                f"Refusing the {what} '{path}': it is inside the system folder '{folder}'.",
                full,
            )
    return full


def assert_single_link(fs: FakeFileSystem, path: str, what: str = "file") -> None:
    """Twin of ``Assert-DdpermSingleLink``: DdpermHardLink when the file has other names."""
    if not fs.exists(path, follow=True):
        raise ErrorRecord(
            f"Cannot find path '{path}' because it does not exist.",
            "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand",
            "ObjectNotFound",
            path,
            "System.Management.Automation.ItemNotFoundException",
        )
    if fs.stat(path, follow=True).links > 1:
        raise _path_error(
            "DdpermHardLink",
            f"Refusing the {what} '{path}': it has other names (hard links).",
            path,
        )


# -- Hyper-V: who may ask, and the errors Hyper-V gives -----------------------------------

VM_DISK_NAME = "DockerDesktop.vhdx"
_GET_VM = "Microsoft.HyperV.PowerShell.Commands.GetVM"
_VIRT = "Microsoft.HyperV.PowerShell.VirtualizationException"
_NEW_VHDX_FILE_SIZE = 4 * 2**20  # a new empty dynamic VHDX (real New-VHD output: 4194304)
_NOT_FOUND = {
    "en": 'Hyper-V was unable to find a virtual machine with name "{name}".',
    "es": 'Hyper-V no pudo encontrar una máquina virtual con el nombre "{name}".',
}


def seed_docker_vm(
    host: FakeHost,
    *,
    state: str = "Off",
    data_folder: str = DEFAULT_DATA_FOLDER,
    virtual_size: int = 64 * 2**30,
    file_size: int = 2 * 2**30,
) -> FakeVM:
    """Put a DockerDesktopVM with its DockerDesktop.vhdx (a dynamic VHDX) on ``host``."""
    path = join(*split(data_folder)) + "\\" + VM_DISK_NAME
    host.fs.create_sized_file(path, file_size)
    host.vhds[path.lower()] = FakeVHD(path, virtual_size, attached=state != "Off")
    vm = FakeVM(VM_NAME, state=state, vhd_path=path)
    host.vms.append(vm)
    return vm


def _virt_error(message: str, fqid: str, category: str, target: str = "") -> ErrorRecord:
    return ErrorRecord(message, fqid, category, target, _VIRT)


def _require_hyperv(host: FakeHost) -> None:
    """What Hyper-V\\Get-VM says when the module, the service or the rights are missing."""
    if host.features.get("Microsoft-Hyper-V-Management-PowerShell") != "Enabled":
        raise ErrorRecord(
            "The term 'Hyper-V\\Get-VM' is not recognized as the name of a cmdlet, function, "
            "script file, or operable program. Check the spelling of the name, or if a path "
            "was included, verify that the path is correct and try again.",
            "CommandNotFoundException",
            "ObjectNotFound",
            "Hyper-V\\Get-VM",
            "System.Management.Automation.CommandNotFoundException",
        )
    vmms = host.services.get("vmms")
    caller = host.caller
    allowed = (caller.elevated and ADMINISTRATORS in caller.groups) or (
        HYPERV_ADMINISTRATORS in caller.groups
    )
    running = vmms is not None and vmms.status == "Running"
    if not running or host.features.get("Microsoft-Hyper-V") != "Enabled" or not allowed:
        raise _virt_error(
            f"Hyper-V encountered an error trying to access an object on computer "
            f"'{host.os.computer_name}' because the object was not found. The object might "
            "have been deleted, or you might not have permission to perform the task. Verify "
            "that the Virtual Machine Management service on the computer is running. If the "
            "service is running, try to perform the task again by using Run as Administrator.",
            f"ObjectNotFound,{_GET_VM}",
            "ObjectNotFound",
        )


def _script_error(fqid: str, message: str, target: str, category: str) -> ErrorRecord:
    """An error the scripts throw themselves (New-DdpermErrorRecord)."""
    return ErrorRecord(message, fqid, category, target, "System.InvalidOperationException")


def _get_vm(host: FakeHost, name: str, *, allow_missing: bool = False) -> FakeVM | None:
    """Twin of Get-DdpermVM (lib/HyperV.ps1)."""
    if name != VM_NAME:
        raise _script_error(
            "DdpermVMNameMismatch",
            f"ddperm manages only '{VM_NAME}', not '{name}'.",
            name,
            "InvalidArgument",
        )
    _require_hyperv(host)
    found = host.vms_named(name)
    if not found:
        if allow_missing:
            return None
        text = _NOT_FOUND.get(host.os.ui_culture.split("-")[0], _NOT_FOUND["en"])
        raise _virt_error(
            text.format(name=name), f"InvalidParameter,{_GET_VM}", "InvalidArgument", name
        )
    if len(found) > 1:
        raise _script_error(
            "DdpermDuplicateVM",
            f"Hyper-V has {len(found)} virtual machines named '{name}'; refusing to guess "
            "which one is Docker's.",
            name,
            "InvalidResult",
        )
    if found[0].name != name:
        raise _script_error(
            "DdpermVMNameMismatch",
            f"The virtual machine '{found[0].name}' is not named exactly '{name}'.",
            name,
            "InvalidResult",
        )
    return found[0]


def _the_vm(host: FakeHost, name: str) -> FakeVM:
    vm = _get_vm(host, name)
    assert vm is not None
    return vm


def _disk_of(vm: FakeVM) -> str:
    """Twin of Get-DdpermVMDisk."""
    if not vm.vhd_path:
        raise _script_error(
            "DdpermVMDiskCount",
            f"The virtual machine '{vm.name}' has 0 hard disks; ddperm expects exactly one.",
            vm.name,
            "InvalidResult",
        )
    return vm.vhd_path


def _assert_off(vm: FakeVM, action: str) -> None:
    if vm.state != "Off":
        raise _script_error(
            "DdpermVMNotOff",
            f"Cannot {action} while the virtual machine '{vm.name}' is {vm.state}; stop it first.",
            vm.name,
            "InvalidOperation",
        )


def _invalid_state(vm: FakeVM, cmdlet: str) -> ErrorRecord:
    return _virt_error(
        f"'{vm.name}' failed to change state.\n"
        "The operation cannot be performed while the object is in its current state.",
        f"InvalidState,Microsoft.HyperV.PowerShell.Commands.{cmdlet}",
        "InvalidOperation",
    )


def vm_info_document(vm: FakeVM) -> dict[str, object]:
    """ConvertTo-DdpermVMInfo."""
    return {
        "name": vm.name,
        "vm_id": vm.vm_id,
        "state": vm.state,
        "generation": vm.generation,
        "processor_count": vm.processor_count,
        "memory_startup_bytes": vm.memory_startup_bytes,
        "vhd_path": vm.vhd_path or None,
    }


def _set_attached(host: FakeHost, vm: FakeVM, attached: bool) -> None:
    vhd = host.vhd(vm.vhd_path)
    if vhd is not None:
        vhd.attached = attached


def _fs_error(error: FsError, cmdlet: str) -> ErrorRecord:
    """A file-system failure as the file cmdlets report it."""
    messages = {
        FsErrorKind.SHARING_VIOLATION: (
            f"The process cannot access the file '{error.path}' because it is being used by "
            "another process.",
            "WriteError",
            "System.IO.IOException",
        ),
        FsErrorKind.DISK_FULL: (
            "There is not enough space on the disk.",
            "WriteError",
            "System.IO.IOException",
        ),
        FsErrorKind.ACCESS_DENIED: (
            f"Access to the path '{error.path}' is denied.",
            "PermissionDenied",
            "System.UnauthorizedAccessException",
        ),
    }
    message, category, exc = messages.get(
        error.kind, (str(error), "WriteError", "System.IO.IOException")
    )
    command = {"Copy-Item": "CopyItemCommand", "Move-Item": "MoveItemCommand"}.get(
        cmdlet, "RemoveItemCommand"
    )
    return ErrorRecord(
        message, f"{exc},Microsoft.PowerShell.Commands.{command}", category, error.path, exc
    )


def _validate_range(script: str, name: str, value: int, low: int, high: int) -> None:
    """[ValidateRange(low, high)] on a script parameter, as PowerShell's binder reports it."""
    if low <= value <= high:
        return
    if value < low:
        problem = f"is less than the minimum allowed range of {low}"
        fix = f"greater than or equal to {low}"
    else:
        problem = f"is greater than the maximum allowed range of {high}"
        fix = f"less than or equal to {high}"
    raise ErrorRecord(
        f"Cannot validate argument on parameter '{name}'. The {value} argument {problem}. "
        f"Supply an argument that is {fix} and then try the command again.",
        f"ParameterArgumentValidationError,{script}",
        "InvalidData",
        name,
        "System.Management.Automation.ParameterBindingValidationException",
    )


# -- the scripts -----------------------------------------------------------------------------


@handles("vm_info")
def vm_info(host: FakeHost, VMName: str) -> dict[str, object]:
    vm = _get_vm(host, VMName, allow_missing=True)
    return {"vm": None if vm is None else vm_info_document(vm)}


def _missing_folders(fs: FakeFileSystem, folder: str) -> list[str]:
    """New-DdpermFolder's list: the folders that do not exist yet, shallowest first."""
    drive, parts = split(folder)
    return [
        join(drive, parts[:i])
        for i in range(1, len(parts) + 1)
        if not fs.exists(join(drive, parts[:i]), follow=True)
    ]


def _remove_created(fs: FakeFileSystem, folders: list[str]) -> None:
    """Remove-DdpermCreatedFolders: deepest first, stop at the first that will not go."""
    for folder in reversed(folders):
        try:
            fs.remove(folder)
        except FsError:
            break


def _new_vhd(host: FakeHost, path: str, size: int) -> None:
    """Hyper-V\\New-VHD -Dynamic (a VHDX: the extension decides the format)."""
    drive = split(path)[0]
    if host.fs.free[drive] < _NEW_VHDX_FILE_SIZE:
        raise ErrorRecord(
            f"Failed to create the virtual hard disk.\nThe system failed to create '{path}': "
            "There is not enough space on the disk. (0x80070070).",
            "OperationFailed,Microsoft.Vhd.PowerShell.Cmdlets.NewVhd",
            "NotSpecified",
            "",
            _VIRT,
        )
    host.fs.free[drive] -= _NEW_VHDX_FILE_SIZE
    host.fs.create_sized_file(path, _NEW_VHDX_FILE_SIZE)
    host.vhds[path.lower()] = FakeVHD(path, size)


@handles("vm_create")
def vm_create(
    host: FakeHost,
    VMName: str,
    ProcessorCount: int,
    MemoryStartupBytes: int,
    DiskSizeBytes: int,
    DataFolder: str,
) -> dict[str, object]:
    _validate_range("vm_create", "ProcessorCount", ProcessorCount, 1, 64)
    _validate_range("vm_create", "MemoryStartupBytes", MemoryStartupBytes, 2**30, 2**38)
    _validate_range("vm_create", "DiskSizeBytes", DiskSizeBytes, 2**30, 2**46)
    if _get_vm(host, VMName, allow_missing=True) is not None:
        raise _script_error(
            "DdpermVMExists",
            f"The virtual machine '{VMName}' already exists.",
            VMName,
            "ResourceExists",
        )
    folder = assert_safe_path(host.fs, DataFolder, "data folder")
    vhdx = assert_safe_path(host.fs, folder + "\\" + VM_DISK_NAME, "VM disk")
    if host.fs.exists(vhdx):
        raise _script_error(
            "DdpermDiskExists",
            f"'{vhdx}' already exists; move or delete it before creating the VM.",
            vhdx,
            "ResourceExists",
        )
    created = _missing_folders(host.fs, folder)
    vm: FakeVM | None = None
    try:
        host.fs.mkdir(folder)
        assert_safe_path(host.fs, vhdx, "VM disk")  # the script checks again before New-VHD
        _new_vhd(host, vhdx, DiskSizeBytes)
        vm = FakeVM(VMName, memory_startup_bytes=MemoryStartupBytes, processor_count=1)
        host.vms.append(vm)  # New-VM
        if ProcessorCount > host.logical_processors:  # Set-VM -ProcessorCount
            raise _virt_error(
                "Failed to modify device 'Processor'.\nCannot assign the specified number of "
                f"processors for virtual machine '{VMName}' is out of range. The range is 1 "
                f"through {host.logical_processors}. (Virtual machine ID {vm.vm_id})",
                "OperationFailed,Microsoft.HyperV.PowerShell.Commands.SetVM",
                "NotSpecified",
            )
        vm.processor_count = ProcessorCount
        vm.vhd_path = vhdx  # Add-VMHardDiskDrive
    except ErrorRecord:
        if vm is not None:
            host.vms.remove(vm)
        if host.fs.exists(vhdx):
            host.fs.free[split(vhdx)[0]] += host.fs.stat(vhdx).size
            host.fs.remove(vhdx)
            host.vhds.pop(vhdx.lower(), None)
        _remove_created(host.fs, created)
        raise
    return vm_info_document(vm)


_STARTABLE = ("Off", "Saved", "FastSaved")


@handles("vm_start")
def vm_start(host: FakeHost, VMName: str) -> dict[str, object]:
    vm = _the_vm(host, VMName)
    changed = vm.state != "Running"
    if vm.state == "Paused":
        vm.state = "Running"  # Resume-VM
    elif changed:
        if vm.state not in _STARTABLE:
            raise _invalid_state(vm, "StartVM")
        if not host.hypervisor_present:
            raise _virt_error(
                f"'{vm.name}' failed to start.\nVirtual machine '{vm.name}' could not be "
                "started because the hypervisor is not running.",
                "OperationFailed,Microsoft.HyperV.PowerShell.Commands.StartVM",
                "NotSpecified",
            )
        if vm.memory_startup_bytes > host.available_memory_bytes:
            megabytes = vm.memory_startup_bytes // 2**20
            raise _virt_error(
                f"'{vm.name}' failed to start.\n\nNot enough memory in the system to start the "
                f"virtual machine {vm.name}.\n\nCould not initialize memory: Ran out of memory "
                f"(0x8007000E).\n\n'{vm.name}' failed to start. (Virtual machine ID "
                f"{vm.vm_id.upper()})\n\nNot enough memory in the system to start the virtual "
                f"machine {vm.name} with ram size {megabytes} megabytes. (Virtual machine ID "
                f"{vm.vm_id.upper()})",
                "OperationFailed,Microsoft.HyperV.PowerShell.Commands.StartVM",
                "NotSpecified",
            )
        vm.state = "Running"
        _set_attached(host, vm, True)
    return {"changed": changed, "forced": False, "vm": vm_info_document(vm)}


@handles("vm_stop")
def vm_stop(
    host: FakeHost, VMName: str, Force: bool = False, TimeoutSeconds: int = 20
) -> dict[str, object]:
    _validate_range("vm_stop", "TimeoutSeconds", TimeoutSeconds, 1, 600)
    vm = _the_vm(host, VMName)
    changed, forced = vm.state != "Off", False
    if vm.state == "Running":
        if vm.hangs_on_shutdown:  # the job outlives Wait-Job -Timeout
            if not Force:
                raise _script_error(
                    "DdpermShutdownTimeout",
                    f"The virtual machine '{VMName}' did not shut down within "
                    f"{TimeoutSeconds} seconds; stop it with force to turn it off.",
                    VMName,
                    "OperationTimeout",
                )
            forced = True
    elif vm.state in ("Saved", "Paused"):
        if not Force:
            raise _script_error(
                "DdpermStopNeedsForce",
                f"The virtual machine '{VMName}' is {vm.state}; stopping it discards its "
                "memory state, so it needs force.",
                VMName,
                "InvalidOperation",
            )
        forced = True
    elif changed:
        raise _invalid_state(vm, "StopVM")
    vm.state = "Off"
    _set_attached(host, vm, False)
    return {"changed": changed, "forced": forced, "vm": vm_info_document(vm)}


@handles("vm_destroy")
def vm_destroy(host: FakeHost, VMName: str) -> dict[str, object]:
    vm = _get_vm(host, VMName, allow_missing=True)
    deleted: list[str] = []
    kept: list[str] = []
    if vm is not None:
        _assert_off(vm, "destroy the virtual machine")
        disks = [assert_safe_path(host.fs, vm.vhd_path, "VM disk")] if vm.vhd_path else []
        host.vms.remove(vm)  # Remove-VM
        for disk in disks:
            if disk.rsplit("\\", 1)[1] == VM_DISK_NAME and host.fs.exists(disk):
                assert_safe_path(host.fs, disk, "VM disk")  # again, right before the delete
                try:
                    host.fs.remove(disk)
                except FsError as error:
                    raise _fs_error(error, "Remove-Item") from None
                host.vhds.pop(disk.lower(), None)
                deleted.append(disk)
            else:
                kept.append(disk)
    return {"existed": vm is not None, "deleted_files": deleted, "kept_files": kept}


@handles("vhd_size")
def vhd_size(host: FakeHost, VMName: str) -> dict[str, object]:
    path = _disk_of(_the_vm(host, VMName))
    vhd = host.vhd(path)
    if vhd is None or not host.fs.exists(path, follow=True):
        raise ErrorRecord(
            f"Getting the mounted storage instance for the path '{path}' failed.\n"
            "The system cannot find the file specified.",
            "ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD",
            "ObjectNotFound",
            path,
            _VIRT,
        )
    return {
        "path": vhd.path,
        "format": vhd.format,
        "type": vhd.type,
        "virtual_size": vhd.size,
        "file_size": host.fs.stat(path, follow=True).size,
        "minimum_size": vhd.minimum_size,
        "block_size": vhd.block_size,
        "logical_sector_size": vhd.logical_sector_size,
        "physical_sector_size": vhd.physical_sector_size,
        "attached": vhd.attached,
    }


@handles("vhd_move")
def vhd_move(host: FakeHost, VMName: str, Destination: str) -> dict[str, object]:
    fs = host.fs
    vm = _the_vm(host, VMName)
    _assert_off(vm, "move the disk")
    source = assert_safe_path(fs, _disk_of(vm), "VM disk")
    target = Destination.rstrip("\\")
    if not target.lower().endswith(".vhdx"):
        target += "\\" + VM_DISK_NAME
    target = assert_safe_path(fs, target, "destination")
    folder = assert_safe_path(fs, parent_of(target), "destination folder")
    method = "none"
    if target.lower() != source.lower():  # PowerShell's -ne is case-insensitive
        _assert_free(fs, target)
        method = "rename" if split(source)[0] == split(target)[0] else "copy"
        assert_single_link(fs, source, "VM disk")
        _move_disk(host, vm, source, target, folder, method)
    return {
        "source": source,
        "destination": target,
        "method": method,
        "vm": vm_info_document(vm),
    }


def _assert_free(fs: FakeFileSystem, target: str) -> None:
    if fs.exists(target):
        raise _script_error(
            "DdpermDestinationExists",
            f"'{target}' already exists; refusing to overwrite it.",
            target,
            "ResourceExists",
        )


def _move_disk(
    host: FakeHost, vm: FakeVM, source: str, target: str, folder: str, method: str
) -> None:
    """The try/catch of vhd_move.ps1: every step undone on failure."""
    fs = host.fs
    created = _missing_folders(fs, folder)
    step = "Move-Item" if method == "rename" else "Copy-Item"
    placed = False
    try:
        fs.mkdir(folder)
        assert_safe_path(fs, target, "destination")  # again, right before writing
        _assert_free(fs, target)
        placed = True
        if method == "rename":
            fs.rename(source, target)
            fs.set_acl(target, None)  # the destination's inherited ACL, not the source's
        else:
            fs.copy_file(source, target)
        vm.vhd_path = target  # Set-VMHardDiskDrive
        if method == "copy":
            step = "Remove-Item"
            fs.remove(source)
    except (FsError, ErrorRecord) as error:
        vm.vhd_path = source
        if placed and fs.exists(target):
            if method == "rename":
                fs.rename(target, source)
            else:
                fs.free[split(target)[0]] += fs.stat(target).size
                fs.remove(target)
        _remove_created(fs, created)
        if isinstance(error, ErrorRecord):
            raise
        raise _fs_error(error, step) from None
    vhd = host.vhds.pop(source.lower(), None)
    if vhd is not None:
        vhd.path = target
        host.vhds[target.lower()] = vhd
