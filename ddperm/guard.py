"""The guard: refuses, before anything runs, every input a privileged job must not get.

Two pins live here: the VM name (exactly ``DockerDesktopVM``) and the path policy
for every path that reaches a privileged operation. The string checks here are
only the first half; the scripts re-check on the host that no existing component
of the path is a reparse point (junction or symbolic link), because a string
cannot tell (Docker Desktop CVE-2022-25365, -31647, -34292).
"""

from __future__ import annotations

import re

from ddperm.errors import PolicyError

VM_NAME = "DockerDesktopVM"

_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\")
_BAD_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
_RESERVED = re.compile(
    r"^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.IGNORECASE
)
_SHORT_NAME = re.compile(r"~[0-9]")
_MAX_PATH = 32_000

# Folders nobody should point a privileged job at, as drive-less lowercase prefixes.
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


def pin_vm_name(name: object) -> str:
    """Return ``name`` if it is exactly ``DockerDesktopVM``; otherwise refuse."""
    if not isinstance(name, str) or name != VM_NAME:
        raise PolicyError(f"ddperm only manages the VM {VM_NAME!r}; refused {name!r}")
    return name


def check_path(path: object, *, what: str = "path") -> str:
    """Validate a path bound for a privileged operation and return it in canonical form.

    Accepted: an absolute path on a local drive letter (``C:\\...``), forward or back
    slashes. Refused: relative paths, UNC and device paths (``\\\\server``, ``\\\\?\\``,
    ``\\\\.\\``), ``.``/``..`` segments, alternate data streams, reserved device names,
    8.3 short names, trailing dots or spaces, a drive root, and system folders.
    """
    if not isinstance(path, str):
        raise PolicyError(f"{what} must be a string, not {type(path).__name__}")
    if not path or len(path) > _MAX_PATH:
        raise PolicyError(f"{what} must be 1 to {_MAX_PATH} characters long")
    if path != path.strip():
        raise PolicyError(f"{what} has leading or trailing white space: {path!r}")
    candidate = path.replace("/", "\\")
    if candidate.startswith("\\\\"):
        raise PolicyError(f"{what} is a UNC or device path; only local drive paths: {path!r}")
    if not _DRIVE_PATH.match(candidate):
        raise PolicyError(f"{what} must be an absolute path like C:\\folder: {path!r}")
    drive, rest = candidate[:2].upper(), candidate[3:]
    segments = rest.split("\\")
    if segments and segments[-1] == "":
        segments.pop()  # one trailing separator is harmless
    if not segments:
        raise PolicyError(f"{what} must not be the root of a drive: {path!r}")
    for segment in segments:
        _check_segment(segment, what, path)
    canonical = drive + "\\" + "\\".join(segments)
    lowered = "\\" + "\\".join(segments).lower()
    for folder in SYSTEM_FOLDERS:
        if lowered == folder or lowered.startswith(folder + "\\"):
            raise PolicyError(f"{what} is inside a protected system folder ({folder}): {path!r}")
    return canonical


def _check_segment(segment: str, what: str, path: str) -> None:
    if segment == "":
        raise PolicyError(f"{what} has an empty segment (doubled separator): {path!r}")
    if segment in (".", ".."):
        raise PolicyError(f"{what} must not contain '.' or '..' segments: {path!r}")
    if ":" in segment:
        raise PolicyError(f"{what} names an alternate data stream: {path!r}")
    if _BAD_CHARS.search(segment):
        raise PolicyError(f"{what} has a character Windows forbids in names: {path!r}")
    if segment[-1] in ". ":
        raise PolicyError(f"{what} has a segment ending in a dot or space: {path!r}")
    if _RESERVED.match(segment.split(".")[0]) or _RESERVED.match(segment):
        raise PolicyError(f"{what} uses a reserved device name ({segment}): {path!r}")
    if _SHORT_NAME.search(segment):
        raise PolicyError(f"{what} looks like an 8.3 short name ({segment}); use the long name")
