"""NTFS security descriptors for the twin: ACEs with inheritance flags, SDDL, access checks.

What the model follows (docs/windows-behaviour.md, "File system, ACLs and the policy cache"):

- An ACE grants an access mask to a SID with the flags OI/CI/NP/IO. An inherit-only (IO)
  ACE grants nothing on the folder it sits on, only on what is created below it.
- Inheritance: a folder's inheritable ACEs pass to a child folder (CI) or file (OI). An ACE
  naming CREATOR OWNER, or holding generic rights, splits on a child folder into an
  effective copy (owner SID, generic rights mapped to file rights) and an inherit-only
  original that keeps passing down (the ``(I)(M)`` + ``(I)(OI)(CI)(IO)(M)`` pair icacls shows
  under C:\\). A protected DACL (SDDL ``P``) inherits nothing.
- Masks are named the way .NET's ``FileSystemRights`` prints them (``ReadAndExecute,
  Synchronize``), and a mask with bits no name covers prints as its decimal number
  (``268435456`` for GENERIC_ALL).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
USERS = "S-1-5-32-545"
AUTHENTICATED_USERS = "S-1-5-11"
EVERYONE = "S-1-1-0"
CREATOR_OWNER = "S-1-3-0"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

# Access mask bits (winnt.h) as .NET's FileSystemRights names them, and its composites.
RIGHTS = {
    "ReadData": 0x1,
    "CreateFiles": 0x2,
    "AppendData": 0x4,
    "ReadExtendedAttributes": 0x8,
    "WriteExtendedAttributes": 0x10,
    "ExecuteFile": 0x20,
    "DeleteSubdirectoriesAndFiles": 0x40,
    "ReadAttributes": 0x80,
    "WriteAttributes": 0x100,
    "Write": 0x116,
    "Delete": 0x10000,
    "ReadPermissions": 0x20000,
    "Read": 0x20089,
    "ReadAndExecute": 0x200A9,
    "Modify": 0x301BF,
    "ChangePermissions": 0x40000,
    "TakeOwnership": 0x80000,
    "Synchronize": 0x100000,
    "FullControl": 0x1F01FF,
}
ALIASES = {  # other .NET names for the same bits, accepted when seeding
    "ListDirectory": 0x1,
    "WriteData": 0x2,
    "CreateDirectories": 0x4,
    "Traverse": 0x20,
}
GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL = (
    0x80000000,
    0x40000000,
    0x20000000,
    0x10000000,
)
_GENERIC_MAP = {  # FILE_GENERIC_READ / _WRITE / _EXECUTE, FILE_ALL_ACCESS
    GENERIC_READ: 0x120089,
    GENERIC_WRITE: 0x120116,
    GENERIC_EXECUTE: 0x1200A0,
    GENERIC_ALL: 0x1F01FF,
}
READ_CONTROL, WRITE_DAC = 0x20000, 0x40000

# SDDL: rights letters (one bit each, printed in ascending bit order) and whole-mask codes.
_SDDL_BITS = {
    "CC": 0x1,
    "DC": 0x2,
    "LC": 0x4,
    "SW": 0x8,
    "RP": 0x10,
    "WP": 0x20,
    "DT": 0x40,
    "LO": 0x80,
    "CR": 0x100,
    "SD": 0x10000,
    "RC": 0x20000,
    "WD": 0x40000,
    "WO": 0x80000,
    "GA": GENERIC_ALL,
    "GX": GENERIC_EXECUTE,
    "GW": GENERIC_WRITE,
    "GR": GENERIC_READ,
}
_SDDL_MASKS = {"FA": 0x1F01FF, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200A0}
_SDDL_SIDS = {
    "SY": SYSTEM,
    "BA": ADMINISTRATORS,
    "BU": USERS,
    "AU": AUTHENTICATED_USERS,
    "WD": EVERYONE,
    "CO": CREATOR_OWNER,
    "CG": "S-1-3-1",  # CREATOR GROUP
    "AC": "S-1-15-2-1",
    "LS": "S-1-5-19",
    "NS": "S-1-5-20",
}
_SID_ALIAS = {sid: alias for alias, sid in _SDDL_SIDS.items()}


class Inherit(enum.Flag):
    NONE = 0
    OBJECT = enum.auto()  # OI: passed to files
    CONTAINER = enum.auto()  # CI: passed to folders
    NO_PROPAGATE = enum.auto()  # NP: passed one level only
    INHERIT_ONLY = enum.auto()  # IO: grants nothing here


_FLAG_CODES = {
    "OI": Inherit.OBJECT,
    "CI": Inherit.CONTAINER,
    "NP": Inherit.NO_PROPAGATE,
    "IO": Inherit.INHERIT_ONLY,
}
BOTH = Inherit.OBJECT | Inherit.CONTAINER


@dataclass(frozen=True)
class Ace:
    """One access control entry, as ``GetAccessRules`` sees it."""

    sid: str
    rights: int
    inherit: Inherit = BOTH
    allow: bool = True
    inherited: bool = False

    @property
    def inherit_only(self) -> bool:
        return Inherit.INHERIT_ONLY in self.inherit


@dataclass(frozen=True)
class Security:
    """What a folder or file carries of its own: explicit ACEs and whether inheritance is off."""

    aces: tuple[Ace, ...] = ()
    protected: bool = False
    owner: str | None = None  # from an SDDL O: part; None keeps the current owner


def mapped(rights: int) -> int:
    """Generic rights turned into the file rights they stand for."""
    out = rights & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL)
    for generic, specific in _GENERIC_MAP.items():
        if rights & generic:
            out |= specific
    return out


def rights_name(mask: int) -> str:
    """``FileSystemRights.ToString()``: the largest names first, listed smallest first."""
    if mask == 0:
        return "0"
    names: list[str] = []
    left = mask
    for name, value in sorted(RIGHTS.items(), key=lambda item: -item[1]):
        if left & value == value:
            names.append(name)
            left &= ~value
    return str(mask) if left else ", ".join(reversed(names))


def rights_mask(names: str) -> int:
    """``"ReadAndExecute, Write"`` -> its mask (.NET names, as the twin's seeds write them)."""
    return sum_bits(RIGHTS.get(n.strip()) or ALIASES[n.strip()] for n in names.split(","))


def sum_bits(values: Iterable[int]) -> int:
    out = 0
    for value in values:
        out |= value
    return out


def from_names(acl: Mapping[str, str], *, container: bool) -> Security:
    """A protected ACL from ``{sid: "Rights, Names"}``, each ACE inherited by everything below."""
    flags = BOTH if container else Inherit.NONE
    aces = tuple(Ace(sid, rights_mask(names), flags) for sid, names in acl.items())
    return Security(aces, protected=True)


def parse_sddl(text: str, *, container: bool = True) -> Security:
    """The owner and DACL of an SDDL string (``O:SYG:SYD:PAI(A;OICI;FA;;;SY)...``)."""
    owner = re.search(r"O:(S-[0-9-]+|[A-Z]{2})", text)
    dacl = re.search(r"D:([A-Z]*)((?:\([^)]*\))*)", text)
    if dacl is None:
        raise ValueError(f"no DACL in {text!r}")
    aces = []
    for body in re.findall(r"\(([^)]*)\)", dacl.group(2)):
        kind, flags, rights, _, _, sid = body.split(";")
        if kind not in ("A", "D"):
            raise ValueError(f"unsupported ACE type {kind!r} in {text!r}")
        codes = [flags[i : i + 2] for i in range(0, len(flags), 2)]
        inherit = sum_flags(_FLAG_CODES[c] for c in codes if c != "ID")
        aces.append(
            Ace(
                _sid(sid),
                _rights(rights),
                inherit if container else Inherit.NONE,
                allow=kind == "A",
                inherited="ID" in codes,
            )
        )
    return Security(
        tuple(a for a in aces if not a.inherited),
        protected="P" in dacl.group(1),
        owner=_sid(owner.group(1)) if owner else None,
    )


def sum_flags(flags: Iterable[Inherit]) -> Inherit:
    out = Inherit.NONE
    for flag in flags:
        out |= flag
    return out


def _sid(text: str) -> str:
    return _SDDL_SIDS.get(text, text)


def _rights(text: str) -> int:
    if text.lower().startswith("0x"):
        return int(text, 16)
    if text in _SDDL_MASKS:
        return _SDDL_MASKS[text]
    return sum_bits(_SDDL_BITS[text[i : i + 2]] for i in range(0, len(text), 2))


def format_sddl(owner: str, aces: Iterable[Ace], *, protected: bool) -> str:
    """``Get-Acl``'s ``.Sddl`` (owner and DACL; inherited ACEs marked ``ID``)."""
    parts = [f"O:{_SID_ALIAS.get(owner, owner)}D:{'P' if protected else ''}AI"]
    for ace in aces:
        codes = "".join(c for c, f in _FLAG_CODES.items() if f in ace.inherit)
        codes += "ID" if ace.inherited else ""
        sid = _SID_ALIAS.get(ace.sid, ace.sid)
        parts.append(f"({'A' if ace.allow else 'D'};{codes};{_format_rights(ace.rights)};;;{sid})")
    return "".join(parts)


def _format_rights(mask: int) -> str:
    for code, value in _SDDL_MASKS.items():
        if mask == value:
            return code
    letters = sorted(_SDDL_BITS.items(), key=lambda item: item[1])
    if sum_bits(v for _, v in letters if mask & v) != mask:
        return hex(mask)
    return "".join(code for code, value in letters if mask & value)


def inherited_by(parent: Iterable[Ace], *, container: bool, owner: str) -> list[Ace]:
    """The ACEs a new child of a folder with DACL ``parent`` inherits (in order)."""
    out: list[Ace] = []
    for ace in parent:
        effective = replace(
            ace,
            sid=owner if ace.sid == CREATOR_OWNER else ace.sid,
            rights=mapped(ace.rights),
            inherit=Inherit.NONE,
            inherited=True,
        )
        if not container:
            if Inherit.OBJECT in ace.inherit:
                out.append(effective)
        elif Inherit.CONTAINER in ace.inherit:
            if Inherit.NO_PROPAGATE in ace.inherit:
                out.append(effective)
            elif ace.sid == CREATOR_OWNER or mapped(ace.rights) != ace.rights:
                out += [effective, replace(ace, inherited=True)]
            else:
                out.append(replace(ace, inherit=ace.inherit & BOTH, inherited=True))
        elif Inherit.OBJECT in ace.inherit and Inherit.NO_PROPAGATE not in ace.inherit:
            flags = ace.inherit | Inherit.INHERIT_ONLY
            out.append(replace(ace, inherit=flags, inherited=True))
    return out


def granted(aces: Iterable[Ace], sids: set[str], *, owner: str) -> int:
    """The access an access check grants a token holding ``sids`` (allow and deny in order;
    an owner may always read and rewrite the DACL)."""
    allowed = READ_CONTROL | WRITE_DAC if owner in sids else 0
    denied = 0
    for ace in aces:
        if ace.inherit_only or ace.sid not in sids:
            continue
        bits = mapped(ace.rights) & ~(allowed | denied)
        if ace.allow:
            allowed |= bits
        else:
            denied |= bits
    return allowed
