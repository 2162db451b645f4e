"""Every Python block in the README runs as written (against the twin)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def test_readme_has_python_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip(), "a README example should print what it shows"


JEA_BLOCK = re.search(
    r"^## Just Enough Administration.*?^```sh\n(.*?)^```",
    README.read_text(encoding="utf-8"),
    re.M | re.S,
)


def test_readme_jea_lines_run_against_ddperm_twin(tmp_path: Path) -> None:
    """The JEA section's shell lines, as written, with only the port and the way to run
    ddperm changed (the twin started in the background, waited for, and stopped)."""
    import socket
    import subprocess
    import sys

    assert JEA_BLOCK is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines = JEA_BLOCK[1].replace("5985", str(port)).replace(".venv/bin/ddperm", "ddperm_cli")
    head, twin_line, rest = re.split(r"^(.*&)[ \t]*$", lines, maxsplit=1, flags=re.M)
    first = head + twin_line
    shim = tmp_path / "ddperm_cli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ddperm "$@"\n')
    shim.chmod(0o755)
    script = "\n".join(
        [
            f'PATH="{tmp_path}:$PATH"',
            first,
            "twin=$!",
            f"until (echo > /dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 0.2; done",
            rest,
            "echo audit-exit=$?",
            'kill "$twin"',
        ]
    )
    root = str(README.parent)
    env = {**__import__("os").environ, "PYTHONPATH": root, "COLUMNS": "200"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert "ok: as this ddperm installs it" in done.stdout, done.stdout + done.stderr
    assert "DEV-PC01\\ddperm-auditors -> DdpermAuditor" in done.stdout
    assert "dev-pc01" in done.stdout and "hosts_file" in done.stdout
    assert "audit-exit=1" in done.stdout  # unhealthy (the hosts entry), not an error
