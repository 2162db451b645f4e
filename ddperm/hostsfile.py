"""Planning the hosts-file entry: a pure function from the file's bytes to its new bytes.

ddperm keeps ``127.0.0.1 kubernetes.docker.internal`` in one section it owns::

    # Added by ddperm
    127.0.0.1 kubernetes.docker.internal
    # End of ddperm section

Decisions (docker/for-win #8773, #6038, #12847, #5855; appveyor/ci #3415):

- The file is handled as bytes, never decoded, so any ASCII-compatible encoding,
  NULs, a missing final newline and mixed line endings survive. A UTF-8 BOM is kept
  where it is and never added; a UTF-16/UTF-32 file is refused (``UnsupportedHostsFile``).
- The section goes at the top of the file (after a BOM). Windows takes the first
  entry for a name, so ours wins over stale copies further down without editing
  them, and nothing outside the section moves or changes by a byte: the new file is
  BOM + section + every other line exactly as it was.
- Docker Desktop's own sections (``# Added by Docker Desktop`` and the older
  ``# Added by Docker for Windows``, up to ``# End of section``) belong to Docker
  Desktop and to the users who add lines inside them; they are left untouched, as
  are duplicates elsewhere (status counts every mapping line as ``entries``).
- Inside ddperm's markers only the markers and lines that map nothing but our names
  are ours. Any other line found there (a user's entry, a comment, a blank line)
  stays where it is; a second ddperm section or a stray marker is removed the same
  way. Nothing a user wrote is ever deleted.
- The section's line ending is the dominant one of the rest of the file (CRLF on a
  tie or an empty file), so repeated runs never change it (#8773).
- A line never carries more than 9 names (Windows ignores the rest, KB 2717022).

``plan(plan(x)) == plan(x)``: a second ensure changes no byte.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

HOSTS_IP = "127.0.0.1"
KUBERNETES_NAME = "kubernetes.docker.internal"
BEGIN = b"# Added by ddperm"
END = b"# End of ddperm section"
DOCKER_HEADERS = (b"# Added by Docker Desktop", b"# Added by Docker for Windows")
UTF8_BOM = b"\xef\xbb\xbf"
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
MAX_NAMES_PER_LINE = 9
MAX_BYTES = 8 * 2**20  # hosts_read.ps1 refuses larger files (DdpermHostsTooLarge)
_LINES = re.compile(rb"[^\n]*\n|[^\n]+\Z")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\Z"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"^(?:{_OCTET}\.){{3}}{_OCTET}\Z")


class UnsupportedHostsFile(ValueError):
    """The file is UTF-16 or UTF-32: inserting ASCII lines would corrupt it."""


@dataclass(frozen=True)
class HostsFacts:
    """What ``status()`` reports about a hosts file (the same as Get-DdpermHostsStatus)."""

    has_bom: bool
    line_ending: str  # "CRLF" | "LF": the file's dominant style (CRLF on a tie)
    sections: int  # ddperm begin markers found
    in_sync: bool  # ensure would change nothing
    entries: int  # active lines anywhere that map one of our names (1 when all is well)
    docker_sections: int  # Docker Desktop / Docker for Windows section headers
    unsupported_encoding: bool


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lines(body: bytes) -> list[bytes]:
    """Split into lines that keep their terminators: ``b"".join(lines(b)) == b``."""
    return _LINES.findall(body)


def _stripped(line: bytes) -> bytes:
    return line.rstrip(b"\r\n").strip(b" \t\r").lower()


def _names(line: bytes) -> list[bytes]:
    """The names an active line maps (empty for comments and blank lines)."""
    tokens = line.split(b"#", 1)[0].split()
    return [t.lower() for t in tokens[1:]]


def _is_ours(line: bytes, names: frozenset[bytes]) -> bool:
    mapped = _names(line)
    return bool(mapped) and all(n in names for n in mapped)


def _split_ours(body: bytes, names: frozenset[bytes]) -> list[bytes]:
    """The lines that are not ddperm's, in order."""
    all_lines = lines(body)
    kept: list[bytes] = []
    inside = False
    for i, line in enumerate(all_lines):
        mark = _stripped(line)
        if mark == BEGIN.lower():
            inside = _section_closes(all_lines, i + 1)
        elif mark == END.lower():
            inside = False
        elif not (inside and _is_ours(line, names)):
            kept.append(line)
    return kept


def _section_closes(all_lines: list[bytes], start: int) -> bool:
    """A begin marker opens a section only if an end marker follows before the next begin."""
    for line in all_lines[start:]:
        mark = _stripped(line)
        if mark == END.lower():
            return True
        if mark == BEGIN.lower():
            return False
    return False


def dominant_eol(kept: Sequence[bytes]) -> bytes:
    crlf = sum(1 for line in kept if line.endswith(b"\r\n"))
    lf = sum(1 for line in kept if line.endswith(b"\n")) - crlf
    return b"\n" if lf > crlf else b"\r\n"


def check_names(names: Sequence[str], ip: str) -> frozenset[bytes]:
    """Refuse anything but plain lowercase DNS names and a dotted IPv4 address."""
    if not names:
        raise ValueError("at least one host name is needed")
    for name in names:
        if not isinstance(name, str) or not _HOSTNAME.match(name):
            raise ValueError(f"not a plain lowercase DNS name: {name!r}")
    if not _IPV4.match(ip):
        raise ValueError(f"not a dotted IPv4 address: {ip!r}")
    return frozenset(n.encode("ascii") for n in names)


def section(eol: bytes, names: Sequence[str] = (KUBERNETES_NAME,), ip: str = HOSTS_IP) -> bytes:
    """ddperm's section with ``eol`` line endings; at most 9 names on a line."""
    check_names(names, ip)
    unique = list(dict.fromkeys(names))
    entries = [
        f"{ip} {' '.join(unique[i : i + MAX_NAMES_PER_LINE])}".encode("ascii")
        for i in range(0, len(unique), MAX_NAMES_PER_LINE)
    ]
    return b"".join(line + eol for line in (BEGIN, *entries, END))


def _split_bom(data: bytes) -> tuple[bytes, bytes]:
    if data.startswith(UTF8_BOM):
        return UTF8_BOM, data[len(UTF8_BOM) :]
    if data.startswith(WIDE_BOMS):
        raise UnsupportedHostsFile(
            "the hosts file is UTF-16 or UTF-32; ddperm edits only ASCII-compatible files"
        )
    return b"", data


def plan(data: bytes, names: Sequence[str] = (KUBERNETES_NAME,), ip: str = HOSTS_IP) -> bytes:
    """The hosts file as ensure leaves it: BOM + ddperm's section + every other line unchanged."""
    ours = check_names(names, ip)
    bom, body = _split_bom(data)
    kept = _split_ours(body, ours)
    return bom + section(dominant_eol(kept), names, ip) + b"".join(kept)


def facts(data: bytes, names: Sequence[str] = (KUBERNETES_NAME,), ip: str = HOSTS_IP) -> HostsFacts:
    """Status facts for ``data``; a UTF-16/32 file is reported, not refused."""
    ours = check_names(names, ip)
    try:
        bom, body = _split_bom(data)
    except UnsupportedHostsFile:
        return HostsFacts(False, "CRLF", 0, False, 0, 0, True)
    all_lines = lines(body)
    marks = [_stripped(line) for line in all_lines]
    headers = {h.lower() for h in DOCKER_HEADERS}
    return HostsFacts(
        has_bom=bool(bom),
        line_ending="LF" if dominant_eol(all_lines) == b"\n" else "CRLF",
        sections=marks.count(BEGIN.lower()),
        in_sync=plan(data, names, ip) == data,
        entries=sum(1 for line in all_lines if any(n in ours for n in _names(line))),
        docker_sections=sum(1 for mark in marks if mark in headers),
        unsupported_encoding=False,
    )
