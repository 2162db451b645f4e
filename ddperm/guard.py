"""The guard: refuses, before anything runs, every input a privileged job must not get.

Two pins live here: the VM name (exactly ``DockerDesktopVM``) and the path policy
for every path that reaches a privileged operation. The string checks here are
only the first half; the scripts re-check on the host that no existing component
of the path is a reparse point (junction or symbolic link), because a string
cannot tell (Docker Desktop CVE-2022-25365, -31647, -34292).

The path policy accepts only plain, absolute local drive paths and returns them in
one canonical form (``check_path(check_path(p)) == check_path(p)``). It refuses UNC
and device paths, ``.``/``..``, alternate data streams (``C:\\Config.Msi::$INDEX_ALLOCATION``,
the rollback trick of CyberArk's Part 2), reserved device names, 8.3 short names,
names Windows would silently trim, PowerShell wildcard characters, system locations,
and Unicode that could pass for something else: control, format (bidi, zero-width) and
unassigned characters, and characters whose compatibility form or case mapping is ASCII
(fullwidth ``：``/``＼``, Kelvin sign, dotless i) or that Windows' ANSI "best fit" turns
into a separator or quote.
"""

from __future__ import annotations

import re
import unicodedata

from ddperm.errors import PolicyError

VM_NAME = "DockerDesktopVM"

# Folders nobody should point a privileged job at, as drive-less lowercase prefixes.
# lib/Paths.ps1 re-checks this same list on the host (a test keeps the two equal).
SYSTEM_FOLDERS = (
    "\\windows",
    "\\program files",
    "\\program files (x86)",
    "\\programdata\\microsoft",
    "\\system volume information",
    "\\$recycle.bin",
    "\\recovery",
    "\\boot",
    "\\users\\default",
    "\\users\\public",
)
# Refused by the guard as well: upgrade leftovers, the MSI rollback folder, compatibility
# junctions, root system files. (Any top-level name starting with '$' is refused too.)
_MORE_SYSTEM_FOLDERS = (
    "\\windows.old",
    "\\config.msi",
    "\\documents and settings",
    "\\users\\all users",
    "\\programdata\\application data",
    "\\pagefile.sys",
    "\\hiberfil.sys",
    "\\swapfile.sys",
)
# These folders themselves are refused; paths below them are fine.
_SHARED_ROOTS = ("\\programdata", "\\users")

MAX_PATH = 259  # MAX_PATH (260) minus the terminating NUL
MAX_SEGMENT = 255  # NTFS component limit
_DRIVE = re.compile(r"[A-Za-z]:\\")
_WIN32_FORBIDDEN = frozenset('<>:"|?*')
# PowerShell wildcard syntax: a script that slips from -LiteralPath to -Path must not match
# other files ("C:\\data\\[a-z]*" style).
_WILDCARD = frozenset("[]`")
_RESERVED = re.compile(
    r"CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(COM|LPT)[0-9\u00b9\u00b2\u00b3]", re.IGNORECASE
)
_SHORT_NAME = re.compile(r"~[0-9]")
# Invisible or unusable: control, format (bidi, zero-width), surrogate, private, unassigned,
# line and paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# ASCII that a look-alike must never stand for: separators, stream colon, dot, wildcards.
_SPECIAL_ASCII = frozenset('\\/:."*?<>|')
# Non-ASCII characters Windows' ANSI "best fit" maps onto '\\', '/', or '"' (WorstFit).
_BEST_FIT = frozenset(
    "\u00a5\u20a9\u2216\u29f5\u29f9\ufe68\u2215\u2044\u29f8\u201c\u201d\u201e\u2033"
)


def pin_vm_name(name: object) -> str:
    """Return ``DockerDesktopVM`` if ``name`` is exactly that; otherwise refuse.

    The comparison is ``str``'s own on a plain copy, and the answer is the constant, never
    the caller's object: a ``str`` subclass with its own ``__eq__`` cannot get through.
    """
    if not isinstance(name, str) or str.__str__(name) != VM_NAME:
        raise PolicyError(f"ddperm only manages the VM {VM_NAME!r}; refused {name!r}")
    return VM_NAME


def check_path(path: object, *, what: str = "path", read_only: bool = False) -> str:
    """Validate a path bound for a privileged operation and return it in canonical form.

    Accepted: an absolute path on a local drive letter (``C:\\...``), forward or back
    slashes, at most one trailing separator. The canonical form has an upper-case
    drive, back slashes and no trailing separator. Everything else raises PolicyError.
    ``read_only``: the job only reads the path (a boot ISO), so it may lie in a system
    location; every other rule still applies.
    """
    if not isinstance(path, str):
        raise PolicyError(f"{what} must be a string, not {type(path).__name__}")
    path = str.__str__(path)  # a str subclass cannot smuggle in its own methods
    if not path or len(path) > MAX_PATH:
        raise PolicyError(f"{what} must be 1 to {MAX_PATH} characters long")
    shown = repr(path)
    if path != path.strip():
        raise PolicyError(f"{what} has leading or trailing white space: {shown}")
    candidate = path.replace("/", "\\")
    if candidate.startswith("\\\\"):
        raise PolicyError(f"{what} is a UNC or device path; only local drive paths: {shown}")
    if not _DRIVE.match(candidate):
        raise PolicyError(f"{what} must be an absolute path like C:\\folder: {shown}")
    segments = candidate[3:].split("\\")
    if segments[-1] == "":
        segments.pop()  # one trailing separator is harmless
    if not segments:
        raise PolicyError(f"{what} must not be the root of a drive: {shown}")
    for segment in segments:
        problem = _segment_problem(segment)
        if problem:
            raise PolicyError(f"{what} {problem}: {shown}")
    folder = _system_folder(segments)
    if folder and not read_only:
        raise PolicyError(f"{what} is a protected system location ({folder}): {shown}")
    return candidate[0].upper() + ":\\" + "\\".join(segments)


def _segment_problem(segment: str) -> str:
    """Why one path component is refused, or "" when it is fine."""
    if segment == "":
        return "has an empty segment (doubled separator)"
    if segment in (".", ".."):
        return "must not contain '.' or '..' segments"
    if len(segment) > MAX_SEGMENT:
        return f"has a segment longer than {MAX_SEGMENT} characters"
    for char in segment:
        if char == ":":
            return "names an alternate data stream (':' after the drive)"
        if char in _WIN32_FORBIDDEN:
            return f"has a character Windows forbids in names ({char!r})"
        if char in _WILDCARD:
            return f"has a PowerShell wildcard character ({char!r})"
        if unicodedata.category(char) in _BAD_CATEGORIES or char == "\x7f":
            return f"has an invisible or control character ({char!r})"
        if unicodedata.category(char) == "Zs" and char != " ":
            return f"has a space character other than ' ' ({char!r})"
        if _imitates_ascii(char):
            return f"has a character that can pass for ASCII ({char!r})"
    if segment[-1] in ". ":
        return "has a segment ending in a dot or space (Windows would trim it)"
    if _RESERVED.fullmatch(segment.split(".", 1)[0].strip(" ")):
        return f"uses a reserved device name ({segment})"
    if _SHORT_NAME.search(segment):
        return f"looks like an 8.3 short name ({segment}); use the long name"
    return ""


def _imitates_ascii(char: str) -> bool:
    """A non-ASCII character whose compatibility form or case mapping is ASCII."""
    if char.isascii():
        return False
    if char in _BEST_FIT:
        return True
    for form in (unicodedata.normalize("NFKC", char), char.upper(), char.lower()):
        if (len(form) == 1 and form.isascii()) or not _SPECIAL_ASCII.isdisjoint(form):
            return True
    return False


def _system_folder(segments: list[str]) -> str:
    """The protected location the path is (or lies in), or ""."""
    if segments[0].startswith("$"):
        return "\\" + segments[0]
    lowered = "\\" + "\\".join(segments).lower()
    if lowered in _SHARED_ROOTS:
        return lowered
    for folder in SYSTEM_FOLDERS + _MORE_SYSTEM_FOLDERS:
        if lowered == folder or lowered.startswith(folder + "\\"):
            return folder
    return ""
