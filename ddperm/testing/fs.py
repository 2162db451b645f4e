"""A Windows-like file system for the twin: drives, case-insensitive names,
junctions, symbolic links, hardlinks, read-only and locked files, and ACLs.

Intermediate junctions and symlinks are followed the way Windows follows them
(a path through a junction lands in its target), so tests of link attacks mean
something; the last component is only followed when asked (``follow=True``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ddperm.errors import TransportError
from ddperm.testing import acl as sd
from ddperm.testing.acl import ADMINISTRATORS as ADMINISTRATORS
from ddperm.testing.acl import EVERYONE as EVERYONE
from ddperm.testing.acl import SYSTEM as SYSTEM
from ddperm.testing.acl import USERS as USERS
from ddperm.testing.acl import Ace, Security

_MAX_LINK_HOPS = 31  # Windows gives up after this many reparse hops
# Volume roots as Get-Acl .Sddl shows them (docs/windows-behaviour.md): the Windows 11
# system drive (Authenticated Users may create folders and get Modify on what they create),
# and an NTFS data drive as Disk Management formats it.
SYSTEM_DRIVE_SDDL = (
    f"O:{sd.TRUSTED_INSTALLER}G:SYD:PAI(A;;LC;;;AU)(A;OICIIO;SDGXGWGR;;;AU)(A;OICI;FA;;;SY)"
    "(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
)
DATA_DRIVE_SDDL = (
    "O:BAD:(A;;FA;;;BA)(A;OICIIO;GA;;;BA)(A;;FA;;;SY)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;AU)"
    "(A;OICIIO;SDGXGWGR;;;AU)(A;;0x1200a9;;;BU)(A;OICIIO;GXGR;;;BU)"
)
Acl = Mapping[str, str] | str  # {sid: "FileSystemRights names"} (protected, OI|CI) or SDDL


class FsErrorKind(str, enum.Enum):
    NOT_FOUND = "NotFound"
    EXISTS = "AlreadyExists"
    ACCESS_DENIED = "AccessDenied"
    SHARING_VIOLATION = "SharingViolation"
    NOT_EMPTY = "DirectoryNotEmpty"
    NOT_A_DIRECTORY = "NotADirectory"
    IS_A_DIRECTORY = "IsADirectory"
    LINK_LOOP = "LinkLoop"
    DISK_FULL = "DiskFull"
    NETWORK_PATH = "NetworkPathNotFound"  # ERROR_BAD_NETPATH (53): the twin has no network
    # ReplaceFile's own failures (Win32 1176, 1177; .NET throws IOException for both).
    REPLACEMENT_NOT_MOVED = "UnableToMoveReplacement"  # nothing changed (with a backup name)
    REPLACED_IS_BACKUP = "UnableToMoveReplacement2"  # the replaced file has the backup name


class FsError(Exception):
    """A file-system failure; twin handlers turn it into the PowerShell error Windows gives."""

    def __init__(self, kind: FsErrorKind, path: str) -> None:
        super().__init__(f"{kind.value}: {path}")
        self.kind = kind
        self.path = path


class PowerLoss(TransportError):
    """The machine lost power mid-operation (``power_cut_after``); the caller sees the link drop."""


class Kind(str, enum.Enum):
    DIRECTORY = "Directory"
    FILE = "File"
    JUNCTION = "Junction"
    SYMLINK = "SymbolicLink"


@dataclass
class FileData:
    """The file itself; hardlinks share one FileData, so ``links`` counts names."""

    data: bytes = b""
    size: int | None = None  # set for large files whose bytes are not modelled (VHDX)
    readonly: bool = False
    locked: bool = False  # open elsewhere without sharing: writes, moves and deletes fail
    links: int = 1

    @property
    def length(self) -> int:
        return self.size if self.size is not None else len(self.data)


@dataclass
class Node:
    kind: Kind
    name: str
    file: FileData | None = None
    target: str = ""
    children: dict[str, Node] = field(default_factory=dict)
    security: Security = field(default_factory=Security)  # its own ACEs; none: inherits all
    hidden: bool = False
    owner: str = ADMINISTRATORS  # whoever created it; an owner may always rewrite the DACL

    @property
    def is_container(self) -> bool:
        return self.kind is not Kind.FILE

    @property
    def is_reparse_point(self) -> bool:
        return self.kind in (Kind.JUNCTION, Kind.SYMLINK)


@dataclass(frozen=True)
class Stat:
    path: str
    kind: Kind
    size: int
    links: int
    readonly: bool
    locked: bool
    target: str

    @property
    def is_reparse_point(self) -> bool:
        return self.kind in (Kind.JUNCTION, Kind.SYMLINK)


def split(path: str) -> tuple[str, list[str]]:
    """``C:\\a\\b`` -> ("C:", ["a", "b"]); forward slashes are accepted."""
    norm = path.replace("/", "\\")
    if len(norm) < 2 or norm[1] != ":" or not norm[0].isalpha():
        raise ValueError(f"not an absolute drive path: {path!r}")
    return norm[:2].upper(), [p for p in norm[2:].split("\\") if p]


def join(drive: str, parts: list[str]) -> str:
    return drive + "\\" + "\\".join(parts)


def parent_of(path: str) -> str:
    drive, parts = split(path)
    return join(drive, parts[:-1])


class FakeFileSystem:
    """The twin's disks. Volumes are separate: a move between them is copy plus delete."""

    def __init__(self, drives: tuple[str, ...] = ("C:",), free_bytes: int = 200 * 2**30) -> None:
        self.volumes: dict[str, Node] = {}
        self.free: dict[str, int] = {}
        self._writes_before_power_cut: int | None = None
        self._replace_failure: FsErrorKind | None = None
        for drive in drives:
            self.add_volume(drive, free_bytes)

    def add_volume(self, drive: str, free_bytes: int = 200 * 2**30) -> None:
        letter = drive.upper().rstrip("\\")
        root = Node(Kind.DIRECTORY, letter)
        self._secure(root, SYSTEM_DRIVE_SDDL if letter == "C:" else DATA_DRIVE_SDDL)
        self.volumes[letter] = root
        self.free[letter] = free_bytes

    # -- resolution -----------------------------------------------------------------

    def _walk(self, path: str, *, follow: bool) -> tuple[str, list[str], Node | None, Node | None]:
        """Resolve ``path``; returns (drive, final parts, parent node, node or None)."""
        drive, parts = split(path)
        hops = 0
        while True:
            root = self.volumes.get(drive)
            if root is None:
                raise FsError(FsErrorKind.NOT_FOUND, path)
            node, parent = root, None
            done: list[str] = []
            restarted = False
            for i, part in enumerate(parts):
                if node.kind is not Kind.DIRECTORY:
                    raise FsError(FsErrorKind.NOT_A_DIRECTORY, join(drive, done))
                parent, child = node, node.children.get(part.lower())
                if child is None:
                    return drive, done + parts[i:], parent if i == len(parts) - 1 else None, None
                last = i == len(parts) - 1
                if child.is_reparse_point and (follow or not last):
                    hops += 1
                    if hops > _MAX_LINK_HOPS:
                        raise FsError(FsErrorKind.LINK_LOOP, path)
                    if child.target.startswith(("\\\\", "//")):
                        raise FsError(FsErrorKind.NETWORK_PATH, child.target)
                    drive, target_parts = split(child.target)
                    parts = target_parts + parts[i + 1 :]
                    restarted = True
                    break
                done.append(child.name)
                node = child
            if not restarted:
                return drive, done, parent, node

    def resolve(self, path: str) -> str:
        """The final path, every link followed (``GetFinalPathNameByHandle``)."""
        drive, parts, _, node = self._walk(path, follow=True)
        if node is None:
            raise FsError(FsErrorKind.NOT_FOUND, path)
        return join(drive, parts)

    def _node(self, path: str, *, follow: bool = False) -> Node:
        _, _, _, node = self._walk(path, follow=follow)
        if node is None:
            raise FsError(FsErrorKind.NOT_FOUND, path)
        return node

    def exists(self, path: str, *, follow: bool = False) -> bool:
        try:
            self._node(path, follow=follow)
        except FsError:
            return False
        return True

    def stat(self, path: str, *, follow: bool = False) -> Stat:
        drive, parts, _, node = self._walk(path, follow=follow)
        if node is None:
            raise FsError(FsErrorKind.NOT_FOUND, path)
        f = node.file
        return Stat(
            path=join(drive, parts),
            kind=node.kind,
            size=f.length if f else 0,
            links=f.links if f else 1,
            readonly=bool(f and f.readonly),
            locked=bool(f and f.locked),
            target=node.target,
        )

    def reparse_points_on(self, path: str) -> list[str]:
        """Every existing component of ``path`` (as written) that is a junction or symlink."""
        drive, parts = split(path)
        node = self.volumes.get(drive)
        found: list[str] = []
        walked: list[str] = []
        for part in parts:
            if node is None or node.kind is not Kind.DIRECTORY:
                break
            child = node.children.get(part.lower())
            if child is None:
                break
            walked.append(child.name)
            if child.is_reparse_point:
                found.append(join(drive, walked))
                break
            node = child
        return found

    # -- creation -------------------------------------------------------------------

    def _create(self, path: str, node: Node) -> Node:
        drive, parts, _, existing = self._walk(path, follow=False)
        if existing is not None:
            raise FsError(FsErrorKind.EXISTS, path)
        parent = self._node(join(drive, parts[:-1]), follow=True) if parts[:-1] else None
        parent = parent or self.volumes[drive]
        if parent.kind is not Kind.DIRECTORY:
            raise FsError(FsErrorKind.NOT_A_DIRECTORY, join(drive, parts[:-1]))
        node.name = parts[-1]
        parent.children[node.name.lower()] = node
        return node

    def mkdir(
        self,
        path: str,
        *,
        parents: bool = True,
        exist_ok: bool = True,
        acl: Acl | None = None,
    ) -> None:
        """Create the folder (and parents); ``acl`` is set on each folder this call creates,
        never on one that already exists (``DirectoryInfo.Create(DirectorySecurity)``)."""
        drive, parts = split(path)
        for i in range(1 if parents else len(parts), len(parts) + 1):
            sub = join(drive, parts[:i])
            if self.exists(sub, follow=True):
                if i == len(parts) and not exist_ok:
                    raise FsError(FsErrorKind.EXISTS, sub)
                continue
            self._secure(self._create(sub, Node(Kind.DIRECTORY, "")), acl)

    def power_cut_after(self, operations: int) -> None:
        """Cut the power during the write or replace after ``operations`` more of them.

        The cut write leaves only the first half of its bytes; a cut replace does not
        happen (ReplaceFile is one metadata operation). Either raises ``PowerLoss``.
        """
        self._writes_before_power_cut = operations

    def fail_next_replace(self, kind: FsErrorKind) -> None:
        """Make the next ``replace`` fail as ReplaceFile can (``REPLACEMENT_NOT_MOVED`` or
        ``REPLACED_IS_BACKUP``), e.g. when another program opens the files in between."""
        self._replace_failure = kind

    def _power_cut_now(self) -> bool:
        left = self._writes_before_power_cut
        if left is None:
            return False
        self._writes_before_power_cut = None if left == 0 else left - 1
        return left == 0

    def write_bytes(self, path: str, data: bytes) -> None:
        """Create or overwrite a file's content (parents are created)."""
        self.mkdir(parent_of(path))
        _, _, _, node = self._walk(path, follow=True)
        if node is not None:
            f = self._file(node, path)
            if f.readonly:
                raise FsError(FsErrorKind.ACCESS_DENIED, path)
            if f.locked:
                raise FsError(FsErrorKind.SHARING_VIOLATION, path)
        cut = self._power_cut_now()
        written = bytes(data[: len(data) // 2] if cut else data)
        if node is None:
            self._create(path, Node(Kind.FILE, "", file=FileData(data=written)))
        else:
            f.data, f.size = written, None
        if cut:
            raise PowerLoss(f"power lost while writing {path}")

    def create_sized_file(self, path: str, size: int) -> None:
        """A file whose length matters but whose bytes are not modelled (a VHDX)."""
        self.mkdir(parent_of(path))
        self._create(path, Node(Kind.FILE, "", file=FileData(size=size)))

    def junction(self, path: str, target: str) -> None:
        self.mkdir(parent_of(path))
        self._create(path, Node(Kind.JUNCTION, "", target=target))

    def symlink(self, path: str, target: str) -> None:
        self.mkdir(parent_of(path))
        self._create(path, Node(Kind.SYMLINK, "", target=target))

    def hardlink(self, path: str, existing: str) -> None:
        source = self._node(existing, follow=True)
        f = self._file(source, existing)
        self.mkdir(parent_of(path))
        self._create(path, Node(Kind.FILE, "", file=f))
        f.links += 1  # only once the new name exists

    # -- reading --------------------------------------------------------------------

    @staticmethod
    def _file(node: Node, path: str) -> FileData:
        if node.file is None:
            raise FsError(FsErrorKind.IS_A_DIRECTORY, path)
        return node.file

    def read_bytes(self, path: str) -> bytes:
        f = self._file(self._node(path, follow=True), path)
        if f.locked:
            raise FsError(FsErrorKind.SHARING_VIOLATION, path)
        return f.data

    def file_data(self, path: str) -> FileData:
        """The shared file record behind ``path`` (flags, size, link count) for seeding."""
        return self._file(self._node(path, follow=True), path)

    def listdir(self, path: str) -> list[str]:
        node = self._node(path, follow=True)
        if node.kind is not Kind.DIRECTORY:
            raise FsError(FsErrorKind.NOT_A_DIRECTORY, path)
        return sorted(child.name for child in node.children.values())

    def walk(self, path: str) -> Iterator[Stat]:
        """Every entry below ``path``, children before their folder; links are not followed."""
        for name in self.listdir(path):
            child = join(*_dp(path, name))
            st = self.stat(child)
            if st.kind is Kind.DIRECTORY:
                yield from self.walk(child)
            yield st

    # -- changing -------------------------------------------------------------------

    def remove(self, path: str) -> None:
        """Delete one entry; a link is removed itself, never its target."""
        _, _, parent, node = self._walk(path, follow=False)
        if node is None or parent is None:
            raise FsError(FsErrorKind.NOT_FOUND, path)
        if node.kind is Kind.DIRECTORY and node.children:
            raise FsError(FsErrorKind.NOT_EMPTY, path)
        if node.file is not None:
            if node.file.readonly:
                raise FsError(FsErrorKind.ACCESS_DENIED, path)
            if node.file.locked:
                raise FsError(FsErrorKind.SHARING_VIOLATION, path)
            node.file.links -= 1
        del parent.children[node.name.lower()]

    def rename(self, source: str, destination: str) -> None:
        """Move within one volume (keeps the node, its ACL and hardlinks)."""
        src_drive, _, src_parent, node = self._walk(source, follow=False)
        if node is None or src_parent is None:
            raise FsError(FsErrorKind.NOT_FOUND, source)
        if split(self._resolve_parent(destination))[0] != src_drive:
            raise FsError(FsErrorKind.NOT_FOUND, destination)  # caller must copy across volumes
        if node.file is not None and node.file.locked:
            raise FsError(FsErrorKind.SHARING_VIOLATION, source)
        if self.exists(destination):
            raise FsError(FsErrorKind.EXISTS, destination)
        del src_parent.children[node.name.lower()]
        self._create(destination, node)

    def replace(self, source: str, destination: str, backup: str | None = None) -> None:
        """``File.Replace``: ``source`` takes over ``destination``'s name, ACL and attributes;
        the old file becomes ``backup`` (overwritten if it exists)."""
        new = self._file(self._node(source), source)
        _, _, _, node = self._walk(destination, follow=False)
        if node is None:
            raise FsError(FsErrorKind.NOT_FOUND, destination)
        old = self._file(node, destination)
        if old.readonly:
            raise FsError(FsErrorKind.ACCESS_DENIED, destination)
        if old.locked or new.locked:
            raise FsError(FsErrorKind.SHARING_VIOLATION, destination if old.locked else source)
        if self._power_cut_now():
            raise PowerLoss(f"power lost while replacing {destination}")
        failure, self._replace_failure = self._replace_failure, None
        if failure is FsErrorKind.REPLACEMENT_NOT_MOVED:  # with a backup name: nothing moved
            raise FsError(failure, destination)
        if backup is not None:
            if self.exists(backup):
                self.remove(backup)
            kept = Node(Kind.FILE, "", file=old, security=node.security, hidden=node.hidden)
            self._create(backup, kept)
        if failure is FsErrorKind.REPLACED_IS_BACKUP:
            # The replaced file now has the backup name; the replacement, under its own name,
            # has taken over its ACL: there is no file at ``destination``.
            _, _, parent, _ = self._walk(destination, follow=False)
            if parent is None or backup is None:
                raise ValueError("ReplaceFile's error 1177 is modelled with a backup name")
            del parent.children[node.name.lower()]
            self._node(source).security = node.security
            raise FsError(failure, destination)
        node.file = FileData(data=new.data, size=new.size)
        self.remove(source)

    def _resolve_parent(self, path: str) -> str:
        return self.resolve(parent_of(path))

    def copy_file(self, source: str, destination: str) -> None:
        """Copy a file's content to a new file (ACL inherited from the destination)."""
        src = self._file(self._node(source, follow=True), source)
        if src.locked:
            raise FsError(FsErrorKind.SHARING_VIOLATION, source)
        drive = split(self._resolve_parent(destination))[0]
        if src.length > self.free[drive]:
            raise FsError(FsErrorKind.DISK_FULL, destination)
        self.free[drive] -= src.length
        copy = FileData(data=src.data, size=src.size)
        self._create(destination, Node(Kind.FILE, "", file=copy))

    # -- security -------------------------------------------------------------------

    @staticmethod
    def _secure(node: Node, acl: Acl | None) -> None:
        if acl is None:
            node.security = Security()
            return
        if isinstance(acl, str):
            node.security = sd.parse_sddl(acl, container=node.is_container)
            node.owner = node.security.owner or node.owner
        else:
            node.security = sd.from_names(acl, container=node.is_container)

    def set_acl(self, path: str, acl: Acl | None) -> None:
        """Set the entry's own DACL (None: none of its own, everything inherited); an SDDL
        string may set the owner too."""
        self._secure(self._node(path), acl)

    def set_owner(self, path: str, sid: str) -> None:
        self._node(path).owner = sid

    def owner(self, path: str) -> str:
        """The owner SID of the entry itself (links are not followed)."""
        return self._node(path).owner

    def dacl(self, path: str) -> list[Ace]:
        """The DACL ``Get-Acl`` reads: the entry's own ACEs, then what it inherits (unless
        protected), CREATOR OWNER standing for its owner."""
        drive, parts, _, node = self._walk(path, follow=False)
        if node is None:
            raise FsError(FsErrorKind.NOT_FOUND, path)
        return self._dacl(drive, parts, node)

    def _dacl(self, drive: str, parts: list[str], node: Node) -> list[Ace]:
        own = list(node.security.aces)
        if node.security.protected or not parts:
            return own
        parent = self._node(join(drive, parts[:-1]))
        above = self._dacl(drive, parts[:-1], parent)
        return own + sd.inherited_by(above, container=node.is_container, owner=node.owner)

    def protected(self, path: str) -> bool:
        """Whether the entry's DACL inherits nothing (``AreAccessRulesProtected``)."""
        return self._node(path).security.protected

    def sddl(self, path: str) -> str:
        """Owner and DACL as ``(Get-Acl).Sddl`` shows them."""
        return sd.format_sddl(self.owner(path), self.dacl(path), protected=self.protected(path))

    def access(self, path: str, sids: set[str]) -> int:
        """The access mask an access check grants a token holding ``sids`` on the entry."""
        return sd.granted(self.dacl(path), sids, owner=self.owner(path))

    def explicit_acl(self, path: str) -> dict[str, str] | None:
        """The entry's own ACEs by SID (rights names), when inheritance is off; else None."""
        if not self.protected(path):
            return None
        return _by_sid(self._node(path).security.aces)

    def acl(self, path: str) -> dict[str, str]:
        """What each SID is granted on the entry itself, inherited ACEs included."""
        return _by_sid(self.dacl(path))


def _by_sid(aces: list[Ace] | tuple[Ace, ...]) -> dict[str, str]:
    masks: dict[str, int] = {}
    for ace in aces:
        if ace.allow and not ace.inherit_only:
            masks[ace.sid] = masks.get(ace.sid, 0) | sd.mapped(ace.rights)
    return {sid: sd.rights_name(mask) for sid, mask in masks.items()}


def _dp(path: str, name: str) -> tuple[str, list[str]]:
    drive, parts = split(path)
    return drive, [*parts, name]
