"""Where the real Windows captures live: ``tests/fixtures/real-windows`` (see its SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

REAL_WINDOWS = Path(__file__).resolve().parent / "fixtures" / "real-windows"
if not (REAL_WINDOWS / "SOURCES.md").is_file():
    raise FileNotFoundError(f"the real Windows fixtures are missing: {REAL_WINDOWS}")
