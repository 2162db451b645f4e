"""Twin of the VM and VHDX scripts (vm_*.ps1, vhd_*.ps1) and of lib/Paths.ps1."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import cast

from ddperm.guard import VM_NAME
from ddperm.scripts import script_root
from ddperm.testing.acl import CREATOR_OWNER, rights_name
from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import (
    DEFAULT_DATA_FOLDER,
    HYPERV_ADMINISTRATORS,
    INTEGRATION_COMPONENTS,
    SHUTDOWN_COMPONENT,
    FakeHost,
    FakeVHD,
    FakeVM,
)
from ddperm.testing.fs import (
    ADMINISTRATORS,
    SYSTEM,
    FakeFileSystem,
    FsError,
    FsErrorKind,
    Kind,
    join,
    parent_of,
    split,
)

_SHAPE = re.compile(r"^[A-Za-z]:\\")


def _paths_library() -> dict[str, object]:
    """The lists of lib/Paths.ps1, read from the script text itself (one source of truth).

    ``$Name = @('a', 'b')`` gives a tuple of strings, ``@(0x41, ...)`` a tuple of ints,
    ``'text'`` a string and ``[int64]0x10`` or ``259`` an int.
    """
    text = (script_root() / "lib" / "Paths.ps1").read_text(encoding="ascii")
    found: dict[str, object] = {}
    for match in re.finditer(r"^\$Ddperm(\w+) = (@\(.*?\)|'[^']*'|[^\n]+)$", text, re.M | re.S):
        name, value = match.groups()
        if value.startswith("@("):
            items = re.findall(r"'([^']*)'|(0x[0-9A-Fa-f]+)", value)
            found[name] = tuple(word if word else int(number, 16) for word, number in items)
        elif value.startswith("'"):
            found[name] = value[1:-1]
        else:
            found[name] = int(value.removeprefix("[int64]"), 0)
    return found


PATHS_LIBRARY = _paths_library()
HOST_SYSTEM_FOLDERS = cast(tuple[str, ...], PATHS_LIBRARY["SystemFolders"])
SHARED_ROOTS = cast(tuple[str, ...], PATHS_LIBRARY["SharedRoots"])
MAX_PATH = cast(int, PATHS_LIBRARY["MaxPath"])
MAX_SEGMENT = cast(int, PATHS_LIBRARY["MaxSegment"])
FORBIDDEN_CHARS = cast(str, PATHS_LIBRARY["ForbiddenChars"])
RESERVED_NAMES = re.compile(cast(str, PATHS_LIBRARY["ReservedNames"]), re.IGNORECASE)
BAD_CATEGORIES = cast(tuple[str, ...], PATHS_LIBRARY["BadCategories"])
LOOKALIKE_TARGETS = cast(str, PATHS_LIBRARY["LookalikeTargets"])
BEST_FIT = cast(tuple[int, ...], PATHS_LIBRARY["BestFit"])
TRUSTED_SIDS = cast(tuple[str, ...], PATHS_LIBRARY["TrustedSids"])
ANY_WRITE_RIGHTS = cast(int, PATHS_LIBRARY["AnyWriteRights"])
REPLACE_RIGHTS = cast(int, PATHS_LIBRARY["ReplaceRights"])
READ_DATA_RIGHTS = cast(int, PATHS_LIBRARY["ReadDataRights"])
# .NET's UnicodeCategory names for Python's abbreviations.
DOTNET_CATEGORIES = {
    "Cc": "Control",
    "Cf": "Format",
    "Cs": "Surrogate",
    "Co": "PrivateUse",
    "Cn": "OtherNotAssigned",
    "Zl": "LineSeparator",
    "Zp": "ParagraphSeparator",
    "Zs": "SpaceSeparator",
}


def _path_error(fqid: str, message: str, target: str) -> ErrorRecord:
    return ErrorRecord(message, fqid, "SecurityError", target, "System.InvalidOperationException")


def _segment_problem(segment: str) -> str:
    """Twin of ``Get-DdpermSegmentProblem``, over UTF-16 code units as .NET sees them."""
    if segment == "":
        return "an empty segment"
    if segment in (".", ".."):
        return "a '.' or '..' segment"
    if len(segment.encode("utf-16-le", "surrogatepass")) // 2 > MAX_SEGMENT:
        return f"a name longer than {MAX_SEGMENT} characters"
    for char in segment:
        code = ord(char)
        if code < 0x80:
            if code < 0x20 or code == 0x7F or char in FORBIDDEN_CHARS:
                return f"the character U+{code:04X}"
            continue
        category = "Cs" if code > 0xFFFF else unicodedata.category(char)  # a surrogate pair
        if DOTNET_CATEGORIES.get(category) in (*BAD_CATEGORIES, "SpaceSeparator") or (
            code in BEST_FIT
        ):
            return f"the invisible or look-alike character U+{code:04X}"
        for form in (unicodedata.normalize("NFKC", char), char.upper(), char.lower()):
            if (len(form) == 1 and form.isascii()) or any(c in LOOKALIKE_TARGETS for c in form):
                return f"the character U+{code:04X}, which can pass for ASCII"
    if segment[-1] in ". ":
        return "a name ending in a dot or space"
    if RESERVED_NAMES.match(segment.split(".")[0].strip(" ")):
        return "a reserved device name"
    if re.search(r"~[0-9]", segment):
        return "an 8.3 short name"
    return ""


def _path_problem(path: str) -> tuple[str, list[str]]:
    """The string checks of ``Assert-DdpermSafePath``: (problem or "", the path's parts)."""
    if len(path.encode("utf-16-le", "surrogatepass")) // 2 > MAX_PATH:
        return f"longer than {MAX_PATH} characters", []
    if not _SHAPE.match(path):
        return "not an absolute path on a drive letter", []
    if "/" in path:
        return "written with forward slashes", []
    parts = path[3:].split("\\")
    if parts[-1] == "":
        parts.pop()
    if not parts:
        return "the root of a drive", []
    for part in parts:
        problem = _segment_problem(part)
        if problem:
            return problem, parts
    return "", parts


def system_location(full: str) -> str:
    """Twin of ``Get-DdpermSystemLocation``: the protected location ``full`` is or lies in."""
    relative = full[2:].rstrip("\\").lower()
    top = "\\" + relative[1:].split("\\")[0]
    if top.startswith("\\$"):
        return top
    if relative in SHARED_ROOTS:
        return relative
    for folder in HOST_SYSTEM_FOLDERS:
        if relative == folder or relative.startswith(folder + "\\"):
            return folder
    return ""


def assert_no_link(fs: FakeFileSystem, path: str, what: str = "path") -> None:
    """Twin of ``Assert-DdpermNoLink``: DdpermReparsePoint for a link on an existing component."""
    links = fs.reparse_points_on(path)
    if links:
        raise _path_error(
            "DdpermReparsePoint",
            f"Refusing the {what} '{path}': '{links[0]}' is a junction, symbolic link "
            "or mount point.",
            links[0],
        )


def assert_safe_path(
    fs: FakeFileSystem, path: str, what: str = "path", *, read_only: bool = False
) -> str:
    """Twin of ``Assert-DdpermSafePath`` (lib/Paths.ps1): the full path, or the error it throws.

    DdpermUnsafePath for a string the guard refuses, DdpermReparsePoint when any existing
    component (the last one and dangling links included) is a junction or symlink,
    DdpermSystemPath when the path, as it resolves, is or lies in a system location (not
    with ``read_only``). Reusable by every twin that deletes or moves.
    """
    problem, parts = _path_problem(path)
    if problem:
        raise _path_error(
            "DdpermUnsafePath",
            f"The {what} is not an absolute local path ddperm may use ({problem}): '{path}'.",
            path,
        )
    assert_no_link(fs, path, what)
    full = join(split(path)[0], parts)
    location = system_location(full)
    if location and not read_only:
        raise _path_error(
            "DdpermSystemPath",
            f"Refusing the {what} '{path}': it is the system location '{location}' or inside it.",
            full,
        )
    return full


def folder_acl_problem(
    fs: FakeFileSystem, folder: str, rights: int, *, inheritable: bool = False
) -> str:
    """Twin of ``Get-DdpermFolderAclProblem``: an untrusted owner, or an allow ACE granting an
    untrusted SID any of ``rights`` (inherit-only ones only when ``inheritable``, and never
    CREATOR OWNER's); "" when there is none."""
    owner = fs.owner(folder)
    if owner not in TRUSTED_SIDS:
        return f"it is owned by {owner}"
    for ace in fs.dacl(folder):
        skipped = ace.inherit_only and (not inheritable or ace.sid == CREATOR_OWNER)
        if ace.allow and not skipped and ace.sid not in TRUSTED_SIDS and ace.rights & rights:
            return f"{ace.sid} holds {rights_name(ace.rights)}"
    return ""


def assert_admin_folder(
    fs: FakeFileSystem, folder: str, what: str = "folder", *, private: bool = False
) -> None:
    """Twin of ``Assert-DdpermAdminFolder``: DdpermUnsafeAcl when a non-administrator could
    replace an existing folder on ``folder`` below the volume root, or, once ``folder``
    exists, write to it or to what is created in it (with ``private``: or read them)."""
    drive, parts = split(folder)
    existing: list[str] = []
    for i in range(1, len(parts) + 1):
        current = join(drive, parts[:i])
        if not fs.exists(current, follow=True) or fs.stat(current, follow=True).kind is not (
            Kind.DIRECTORY
        ):
            break
        existing.append(current)
    for i, current in enumerate(existing):
        itself = i == len(parts) - 1
        rights = ANY_WRITE_RIGHTS if itself else REPLACE_RIGHTS
        if itself and private:
            rights |= READ_DATA_RIGHTS
        problem = folder_acl_problem(fs, current, rights, inheritable=itself)
        if problem:
            raise _path_error(
                "DdpermUnsafeAcl",
                f"Refusing the {what} '{folder}': a non-administrator could change or read "
                f"'{current}' ({problem}).",
                current,
            )


ADMIN_ONLY_ACL = {SYSTEM: "FullControl", ADMINISTRATORS: "FullControl"}


def new_folder(
    fs: FakeFileSystem, folder: str, what: str = "folder", *, private: bool = False
) -> list[str]:
    """Twin of ``New-DdpermFolder``: checked before and after (links too), every folder it
    makes admin-only; returns those folders (shallowest first), or removes them and throws."""
    assert_admin_folder(fs, folder, what, private=private)
    drive, parts = split(folder)
    missing = [
        join(drive, parts[:i])
        for i in range(1, len(parts) + 1)
        if not fs.exists(join(drive, parts[:i]), follow=True)
    ]
    try:
        for path in missing:
            fs.mkdir(path, parents=False, acl=ADMIN_ONLY_ACL)  # nothing if it exists by now
        assert_no_link(fs, folder, what)
        assert_admin_folder(fs, folder, what, private=private)
    except (ErrorRecord, FsError):
        _remove_created(fs, missing)
        raise
    return missing


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


def assert_boot_iso(fs: FakeFileSystem, path: str) -> str:
    """Twin of ``Assert-DdpermBootIso`` (lib/HyperV.ps1)."""
    full = assert_safe_path(fs, path, "boot ISO", read_only=True)
    if not full.lower().endswith(".iso"):
        raise _path_error("DdpermUnsafePath", f"The boot ISO must be an .iso file: '{path}'.", path)
    if not fs.exists(full, follow=True) or fs.stat(full, follow=True).kind is not Kind.FILE:
        raise _script_error(
            "DdpermBootIsoNotFound",
            f"The boot ISO '{full}' does not exist.",
            full,
            "ObjectNotFound",
        )
    assert_admin_folder(fs, parent_of(full), "boot ISO")
    problem = folder_acl_problem(fs, full, ANY_WRITE_RIGHTS)
    if problem:
        raise _path_error(
            "DdpermUnsafeAcl",
            f"Refusing the boot ISO '{full}': a non-administrator could change it ({problem}).",
            full,
        )
    return full


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


def seed_checkpoint(host: FakeHost, vm: FakeVM, name: str = "Before update") -> str:
    """Give ``vm`` a checkpoint the way Hyper-V does: a differencing ``.avhdx`` beside its
    disk becomes the current disk, with the old disk as its parent. Returns the .avhdx path."""
    parent = vm.vhd_path
    child = f"{parent.rsplit('.', 1)[0]}_{str(uuid.uuid4()).upper()}.avhdx"
    host.fs.create_sized_file(child, _NEW_VHDX_FILE_SIZE)
    size = host.vhds[parent.lower()].size
    host.vhds[child.lower()] = FakeVHD(child, size, type="Differencing", parent_path=parent)
    vm.vhd_path = child
    vm.checkpoints.append(name)
    return child


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


def _assert_no_checkpoints(host: FakeHost, vm: FakeVM, action: str) -> None:
    """Twin of Assert-DdpermNoCheckpoints (lib/HyperV.ps1)."""
    fix = "delete its checkpoints in Hyper-V first (that merges them into the disk)"
    if vm.checkpoints:
        names = ", ".join(f"'{name}'" for name in vm.checkpoints)
        raise _script_error(
            "DdpermVMHasCheckpoints",
            f"Cannot {action}: the virtual machine '{vm.name}' has checkpoints ({names}); {fix}.",
            vm.name,
            "InvalidOperation",
        )
    vhd = host.vhd(vm.vhd_path) if vm.vhd_path and host.fs.exists(vm.vhd_path) else None
    if vhd is not None and vhd.type == "Differencing":
        raise _script_error(
            "DdpermVMHasCheckpoints",
            f"Cannot {action}: the disk '{vm.vhd_path}' of the virtual machine '{vm.name}' is "
            f"a differencing disk over '{vhd.parent_path}'; {fix}.",
            vm.vhd_path,
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
    BootIso: str = "",
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
    iso = assert_boot_iso(host.fs, BootIso) if BootIso else ""
    created: list[str] = []
    vm: FakeVM | None = None
    try:
        created = new_folder(host.fs, folder, private=True)
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
        vm.secure_boot = False  # Set-VMFirmware -EnableSecureBoot Off
        vm.vhd_path = vhdx  # Add-VMHardDiskDrive, which also adds it to the boot order
        vm.boot_order.append(f"HardDiskDrive:{vhdx}")
        if iso:
            vm.dvd_paths.append(iso)  # Add-VMDvdDrive -Path
            vm.boot_order.insert(0, f"DvdDrive:{iso}")  # Set-VMFirmware -FirstBootDevice
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


# -- Hyper-V's own job type: Stop-VM -AsJob ---------------------------------------------------


@dataclass
class FakeVMJob:
    """The job ``Stop-VM -AsJob`` returns: Hyper-V's own Job type, not a PowerShell one.

    It has no child jobs; when its work is done it always ends Completed, and whatever
    failed is only in its ``Error`` collection. It stays in the session's job repository
    (``FakeHost.jobs``) until Remove-Job.
    """

    state: str = "Running"  # Running until the shutdown task ends, then Completed
    errors: list[ErrorRecord] = field(default_factory=list)
    child_jobs: list[FakeVMJob] = field(default_factory=list)


def shutdown_available(vm: FakeVM) -> bool:
    """Stop-VM's own test: the Shutdown component is enabled and its status is Ok."""
    service = vm.integration_service(SHUTDOWN_COMPONENT)
    return (
        vm.state == "Running"
        and service is not None
        and service.enabled
        and (service.status == "Ok")
    )


def _turn_off(host: FakeHost, vm: FakeVM) -> None:
    vm.state = "Off"
    _set_attached(host, vm, False)


def stop_vm_job(host: FakeHost, vm: FakeVM, *, force: bool) -> FakeVMJob:
    """``Stop-VM -VM $vm [-Force] -AsJob`` on a Running VM.

    With the Shutdown component available the guest is asked to shut down (with -Force a
    forced shutdown, which falls back to turning the VM off when it fails). Without it,
    Stop-VM asks "turn it off instead?", and a job answers yes, with or without -Force.
    """
    job = FakeVMJob()
    host.jobs.append(job)
    if not shutdown_available(vm):
        _turn_off(host, vm)
    elif vm.hangs_on_shutdown:
        return job  # the guest accepted the shutdown and never finishes it
    elif vm.shutdown_error:
        job.errors.append(
            _virt_error(
                vm.shutdown_error,
                "OperationFailed,Microsoft.HyperV.PowerShell.Commands.StopVM",
                "NotSpecified",
                vm.name,
            )
        )
        if force:
            _turn_off(host, vm)
    else:
        _turn_off(host, vm)
    job.state = "Completed"
    return job


def _shutdown_unavailable(host: FakeHost, vm: FakeVM) -> ErrorRecord:
    service = vm.integration_service(SHUTDOWN_COMPONENT)
    status = "missing"
    if service is not None:
        names = INTEGRATION_COMPONENTS[SHUTDOWN_COMPONENT]
        name = names.get(host.os.ui_culture.split("-")[0], names["en"])
        status = f"'{name}' (enabled: {service.enabled}, status: {service.status})"
    return _script_error(
        "DdpermShutdownUnavailable",
        f"The virtual machine '{vm.name}' cannot be shut down by its guest: the shutdown "
        f"integration service is {status}; stop it with force to turn it off.",
        vm.name,
        "InvalidOperation",
    )


def _guest_shutdown(host: FakeHost, vm: FakeVM, timeout: int) -> ErrorRecord | None:
    """The graceful half of vm_stop.ps1: None when the VM is Off, else why it is not."""
    if not shutdown_available(vm):
        return _shutdown_unavailable(host, vm)
    job = stop_vm_job(host, vm, force=False)  # Stop-VM -VM $vm -AsJob; Wait-Job -Timeout
    if job.state != "Running":
        host.jobs.remove(job)  # Remove-Job in a finally, once the job has finished
    if vm.state == "Off":
        return None
    if job.state == "Running":
        return _script_error(
            "DdpermShutdownTimeout",
            f"The virtual machine '{vm.name}' did not shut down within {timeout} seconds; "
            "stop it with force to turn it off.",
            vm.name,
            "OperationTimeout",
        )
    reason = job.errors[0].message if job.errors else f"it is {vm.state}"
    return _script_error(
        "DdpermShutdownFailed",
        f"The virtual machine '{vm.name}' could not be shut down ({reason}); stop it with "
        "force to turn it off.",
        vm.name,
        "InvalidOperation",
    )


@handles("vm_stop")
def vm_stop(
    host: FakeHost, VMName: str, Force: bool = False, TimeoutSeconds: int = 20
) -> dict[str, object]:
    _validate_range("vm_stop", "TimeoutSeconds", TimeoutSeconds, 1, 600)
    vm = _the_vm(host, VMName)
    changed, forced = vm.state != "Off", False
    if vm.state == "Running":
        failure = _guest_shutdown(host, vm, TimeoutSeconds)
        if failure is not None:
            if not Force:
                raise failure
            if vm.hangs_on_shutdown:
                # The guest accepted the shutdown and is still in it: Hyper-V refuses every
                # other state change, so the turn-off fails (an e2e test of eryph-org/eryph
                # shows Stop-VM -TurnOff throwing while Stop-VM -Force -AsJob is pending).
                refused = _invalid_state(vm, "StopVM")
                raise _script_error(
                    "DdpermTurnOffRefused",
                    f"The virtual machine '{VMName}' did not shut down within {TimeoutSeconds} "
                    "seconds, and Hyper-V refuses to turn it off while its guest is still "
                    f"shutting down ({refused.message}). Wait for the shutdown to finish, then "
                    "stop it again.",
                    VMName,
                    "InvalidOperation",
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
        raise ErrorRecord(
            f"The virtual machine '{VMName}' is {vm.state}; ddperm stops it only when it is "
            "Running, Saved or Paused. Try again once it has settled.",
            "DdpermVMBusy",
            "ResourceBusy",
            VMName,
        )
    _turn_off(host, vm)
    return {"changed": changed, "forced": forced, "vm": vm_info_document(vm)}


@handles("vm_destroy")
def vm_destroy(host: FakeHost, VMName: str) -> dict[str, object]:
    vm = _get_vm(host, VMName, allow_missing=True)
    deleted: list[str] = []
    kept: list[str] = []
    if vm is not None:
        _assert_off(vm, "destroy the virtual machine")
        disks = [assert_safe_path(host.fs, vm.vhd_path, "VM disk")] if vm.vhd_path else []
        _assert_no_checkpoints(host, vm, "destroy the virtual machine")
        host.vms.remove(vm)  # Remove-VM
        for disk in disks:
            ours = disk.rsplit("\\", 1)[1].lower() == VM_DISK_NAME.lower()  # -eq ignores case
            if ours and host.fs.exists(disk):
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
    _assert_no_checkpoints(host, vm, "move the disk")
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
    created: list[str] = []
    step = "Move-Item" if method == "rename" else "Copy-Item"
    placed = False
    try:
        created = new_folder(fs, folder, private=True)
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
