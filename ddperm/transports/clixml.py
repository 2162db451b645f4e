"""What Windows PowerShell writes on standard error, decoded.

powershell.exe serialises its error stream as CLIXML when the command came in
through ``-EncodedCommand``, the host is not interactive and stderr is redirected
(ConsoleHost's ``ErrorFormat`` rule). stderr then holds ``#< CLIXML`` headers, each
followed by an ``<Objs>`` document:

- ``<Obj S="progress">``: progress records, never a failure (packer #8619);
- ``<S S="Error">``: one line each of an error record as the host rendered it
  (message, position, ``+ CategoryInfo``, ``+ FullyQualifiedErrorId``);
- other streams (``warning``, ``verbose``, ``debug``, ``information``): informational.

Strings escape characters as ``_xHHHH_`` (``_x000D__x000A_`` is CR LF). Chunks may
run on (``</Objs>#< CLIXML``), and text outside any document is kept as plain
text: the host writes some failures straight to stderr, and without
``-EncodedCommand`` it renders errors as plain text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ddperm.errors import HostError

HEADER = "#< CLIXML"
_DOCUMENT = re.compile(r"<Objs\b.*?</Objs>", re.DOTALL)
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_FQID = re.compile(r"^\s*\+\s*FullyQualifiedErrorId\s*:\s*(?P<fqid>.*?)\s*$", re.MULTILINE)
_CATEGORY = re.compile(
    r"^\s*\+\s*CategoryInfo\s*:\s*(?P<category>\w+):\s*\((?P<target>.*)\)\s*"
    r"\[[^\]]*\],\s*(?P<reason>\S+)\s*$",
    re.MULTILINE,
)
_DETAILS = re.compile(r"^(At .*:\d+ char:\d+|\s*\+ )")


@dataclass(frozen=True)
class Stderr:
    """The streams found on stderr, in order of appearance within each kind."""

    errors: tuple[str, ...] = ()
    progress: tuple[str, ...] = ()
    other: tuple[tuple[str, str], ...] = ()
    text: str = ""


def unescape(value: str) -> str:
    """Undo CLIXML's ``_xHHHH_`` escapes (surrogate pairs included)."""
    raw = _ESCAPED.sub(lambda m: chr(int(m[1], 16)), value)
    return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text_of(element: ET.Element) -> str:
    """A string's value, a progress record's activity, or an object's ToString."""
    if _local(element.tag) == "S":
        return unescape(element.text or "")
    for child in element.iter():
        if _local(child.tag) in ("AV", "ToString"):
            return unescape(child.text or "")
    return ""


def decode_stderr(data: str) -> Stderr:
    """Split stderr into error lines, progress activities, other streams and plain text."""
    errors: list[str] = []
    progress: list[str] = []
    other: list[tuple[str, str]] = []
    plain: list[str] = []
    position = 0
    for match in _DOCUMENT.finditer(data):
        plain.append(data[position : match.start()])
        position = match.end()
        try:
            # Our own child's stderr; expat expands no external entities.
            root = ET.fromstring(match[0])  # noqa: S314
        except ET.ParseError:
            plain.append(match[0])
            continue
        for element in root:
            stream = element.get("S", "")
            text = _text_of(element)
            if stream.lower() == "error":
                errors.append(text)
            elif stream.lower() == "progress":
                progress.append(text)
            else:
                other.append((stream, text))
    plain.append(data[position:])
    text = "".join(plain).replace(HEADER, "").strip()
    return Stderr(tuple(errors), tuple(progress), tuple(other), text)


def host_error(stderr: Stderr, script: str = "") -> HostError | None:
    """The first error record on stderr as a HostError, or None if there is none."""
    rendered = "".join(stderr.errors) or stderr.text
    if not rendered.strip():
        return None
    lines = rendered.replace("\r\n", "\n").split("\n")
    message_lines: list[str] = []
    for line in lines:
        if _DETAILS.match(line):
            break
        message_lines.append(line.strip())
    fqid = _FQID.search(rendered)
    category = _CATEGORY.search(rendered)
    target = category["target"].rsplit(":", 1)[0] if category else ""
    return HostError(
        " ".join(part for part in message_lines if part) or rendered.strip(),
        fully_qualified_error_id=fqid["fqid"] if fqid else "",
        category=category["category"] if category else "NotSpecified",
        target=target,
        exception_type=category["reason"] if category else "",
        script=script,
    )
