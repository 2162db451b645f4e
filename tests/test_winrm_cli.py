"""`ddperm twin` serves the twin over WinRM, and the README's plain-pypsrp lines work on it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
# The README's pypsrp example needs a running `ddperm twin`, so it is fenced as ```py
# (tests/test_readme.py runs the self-contained ```python blocks); this test runs it.
PYPSRP_BLOCK = next(
    block
    for block in re.findall(r"^```py\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    if "RunspacePool" in block
)
PASSWORD = re.search(r'password="([^"]+)"', PYPSRP_BLOCK)


@pytest.fixture(scope="module")
def twin_port() -> Iterator[int]:
    assert PASSWORD is not None
    command = [sys.executable, "-m", "ddperm", "twin", "--port", "0", "--password", PASSWORD[1]]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/wsman", first)
        assert found, first
        yield int(found[1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_readme_pypsrp_lines_work_against_ddperm_twin(
    twin_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = PYPSRP_BLOCK.replace("port=5985", f"port={twin_port}")
    exec(compile(code, "README.md pypsrp block", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert '"os_caption":"Microsoft Windows 11 Pro"' in printed


def test_twin_refuses_a_wrong_password(twin_port: int) -> None:
    import ddperm

    with (
        ddperm.connect(
            "127.0.0.1",
            port=twin_port,
            ssl=False,
            auth="ntlm",
            username="ddperm",
            password="not-it",
        ) as host,
        pytest.raises(ddperm.AuthenticationError),
    ):
        host.version()
