"""Where the real Windows captures live: ``../shared/fixtures/real-windows`` beside the repo."""

from __future__ import annotations

from pathlib import Path

REAL_WINDOWS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real-windows"
if not (REAL_WINDOWS / "SOURCES.md").is_file():
    raise FileNotFoundError(f"the real Windows fixtures are missing: {REAL_WINDOWS}")
