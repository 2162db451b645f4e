"""The guard that fails a test run touching paths outside the repository (tests/_outside_reads)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests._outside_reads import Allowed, allowed_for, is_outside

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
ALLOWED = Allowed(roots=("/repo", "/usr", "/tmp"), home="/home/dev")


@pytest.mark.parametrize(
    "path",
    [
        "/repo",
        "/repo/tests/fixtures/real-windows/SOURCES.md",
        "/usr/share/zoneinfo/UTC",
        "/tmp/pytest-of-dev/x",
        "/home/dev/.cache/matplotlib/fontlist.json",
        "/home/dev/.ansible/tmp",
        "/repo/tests/../README.md",
    ],
)
def test_allowed_paths(path: str) -> None:
    assert not is_outside(path, ALLOWED)


@pytest.mark.parametrize(
    "path",
    [
        "/shared/fixtures/real-windows/SOURCES.md",  # a sibling of the repository
        "/repo/../shared/fixtures",  # the same, spelled from inside
        "/repository-copy/README.md",  # shares a prefix with /repo, is not inside it
        "/home/dev",  # the home folder itself
        "/home/dev/projects/data.csv",  # not a dot-folder
        "/opt/data",
        "/",
    ],
)
def test_outside_paths(path: str) -> None:
    assert is_outside(path, ALLOWED)


def test_no_home_allows_no_dot_folder() -> None:
    assert is_outside("/home/dev/.cache/x", Allowed(roots=("/repo",)))


def test_allowed_for_covers_repo_interpreter_and_temp_but_not_the_repos_parent() -> None:
    allowed = allowed_for(REPO)
    assert not is_outside(str(REPO / "tests" / "fixtures"), allowed)
    assert not is_outside(os.path.join(sys.prefix, "lib"), allowed)
    assert not is_outside(os.path.join(sys.base_prefix, "lib"), allowed)
    assert not is_outside("/dev/null", allowed)
    assert "/" not in allowed.roots


FAKE_TEST = """
from pathlib import Path

def test_reads():
    Path(__file__).with_name("data.txt").read_text()
{extra}
"""


def _run_in_fake_repo(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, extra: str
) -> pytest.RunResult:
    """Run the guard in a child pytest over ``repo/`` with a ``sibling/`` folder beside it."""
    repo = pytester.mkdir("repo")
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (repo / "data.txt").write_text("inside\n")
    (repo / "test_fake.py").write_text(FAKE_TEST.format(extra=extra))
    sibling = pytester.mkdir("sibling")
    (sibling / "data.txt").write_text("outside\n")
    # The child's temp dir and working dir (put on its sys.path) are inside repo/, so that
    # sibling/ is in none of the folders the guard allows.
    temp = repo / ".tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.chdir(repo)
    return pytester.runpytest_subprocess(
        "-p", "tests._outside_reads", "-p", "no:cacheprovider", "--rootdir", str(repo), str(repo)
    )


def test_reading_a_sibling_folder_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = """
def test_reads_sibling():
    (Path(__file__).parent.parent / "sibling" / "data.txt").read_text()
"""
    result = _run_in_fake_repo(pytester, monkeypatch, extra)
    result.stdout.fnmatch_lines(
        [
            "*paths touched outside the repository*",
            "*/sibling/data.txt  (open by test_fake.py::test_reads_sibling)",
        ]
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_fake.py::test_reads)" not in result.stdout.str()


def test_reading_only_inside_the_repository_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_in_fake_repo(pytester, monkeypatch, "")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "outside the repository" not in result.stdout.str()
