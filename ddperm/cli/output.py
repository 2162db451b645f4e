"""What the CLI prints: text from elsewhere made inert, tables that never truncate in pipes.

Anything that came from a host, the service or an inventory (error text, target names,
file contents) goes through :func:`clean` before it is printed: ANSI escapes, ``\\r``,
the other C0/C1 controls and bidi overrides are shown as ``\\x1b``-style escapes, so
they cannot move the cursor, recolour or hide text in a terminal or a CI log.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HEX = frozenset("0123456789abcdef")
_UNLIMITED = 10_000  # columns: a pipe or a CI log has no width to wrap or cut at


def clean(text: object) -> str:
    """``str(text)`` with every control character except newline and tab escaped."""
    return _CONTROL.sub(lambda m: _escape_char(m[0]), str(text).replace("\r\n", "\n"))


def one_line(text: object) -> str:
    """:func:`clean` text on one line (line breaks and runs of spaces become one space)."""
    return " ".join(clean(text).split())


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def cell(text: object) -> Text:
    """A table cell holding outside text: escaped, and never read as rich markup."""
    return Text(clean(text))


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): wrapping at the terminal, unlimited in a pipe."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _UNLIMITED
    return Console(file=stream, highlight=False, width=width, soft_wrap=width is not None)


def flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Model fields as (dotted key, value) pairs; 64-hex hashes shortened, lists as JSON."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str) and len(value) == 64 and all(c in _HEX for c in value):
            yield f"{prefix}{key}", value[:12] + "…"
        elif isinstance(value, list):
            yield f"{prefix}{key}", json.dumps(value)
        else:
            yield f"{prefix}{key}", "-" if value is None else str(value)


def model_table(title: str, model: BaseModel) -> Table:
    """A two-column table of a result model's fields."""
    table = Table(title=cell(title), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in flatten(model.model_dump(mode="json")):
        table.add_row(key, cell(value))
    return table


def print_json(model: BaseModel) -> None:
    """The model as indented JSON, ASCII only (``\\u`` escapes keep terminals safe)."""
    sys.stdout.write(json.dumps(model.model_dump(mode="json"), indent=2) + "\n")


def show(model: BaseModel, *, title: str, as_json: bool) -> None:
    """Print a result model as JSON (for machines) or a table (for people)."""
    if as_json:
        print_json(model)
    else:
        console().print(model_table(title, model))
