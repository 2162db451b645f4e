"""The README's command lines run as written, and exit as their comments say.

A shell block that starts ``ddperm twin ... &`` runs whole in bash against that twin
(on a free port instead of 5985); each ``ddperm`` line must exit with the code its
comment names (``exit N``), or 0. Every other ``ddperm`` line must at least name real
commands and options (it is run with ``--help``), and the exit-code table must list
exactly the codes the CLI uses.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddperm.cli import app, commands  # noqa: F401  (commands registers every command)
from ddperm.cli.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL_BLOCKS = re.findall(r"^```(?:sh|console)\n(.*?)^```", README, re.M | re.S)
TWIN_BLOCKS = [b for b in SHELL_BLOCKS if re.search(r"ddperm twin .*&", b)]
COMMAND = re.compile(r"^(?:\$ |\.venv/bin/)?ddperm\b")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_checked_script(block: str, port: int) -> str:
    """``block`` as bash that fails on the first ddperm line not exiting as documented."""
    lines = ['ddperm() { "$PYTHON" -m ddperm "$@"; }']
    # Only the default port moves; a block on ports of its own (the fleet files' 15985 and
    # 15986) keeps them, as the files it audits name them.
    for raw in re.sub(r"\b5985\b", str(port), block).splitlines():
        line = raw.replace(".venv/bin/ddperm", "ddperm")
        code, _, comment = line.partition("#")
        code = code.strip()
        if code.endswith("&"):
            listens = re.search(r"--port (\d+)", code)
            lines.append('"$PYTHON" -m ' + code)  # $! is the server itself
            lines.append("servers=\"$servers $!\"; trap 'kill $servers 2>/dev/null' EXIT")
            lines.append(
                f"for _ in $(seq 300); do (: >/dev/tcp/127.0.0.1/{listens[1] if listens else port})"
                " 2>/dev/null && break; sleep 0.1; done"
            )
        elif re.match(r"(?:\w+=\S+\s+)*ddperm ", code):  # VAR=value prefixes allowed
            expected = re.search(r"\bexit (\d+)", comment)
            want = expected[1] if expected else "0"
            lines.append(
                f"{code}; rc=$?; [ $rc -eq {want} ] || "
                f"{{ echo {shlex.quote(code)}: exit $rc, README says {want} >&2; exit 1; }}"
            )
        elif code:
            lines.append(code)
    return "\n".join(lines) + "\n"


def test_the_readme_has_blocks_that_run_against_the_twin() -> None:
    assert len(TWIN_BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(TWIN_BLOCKS)))
def test_twin_block_runs_and_exits_as_documented(index: int) -> None:
    script = as_checked_script(TWIN_BLOCKS[index], _free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    env |= {"PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    shell = subprocess.Popen(
        ["bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,  # its own process group: the twin ends with it
    )
    try:
        out, _ = shell.communicate(timeout=240)
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.communicate()
    assert shell.returncode == 0, out
    assert "Traceback" not in out


OTHER_COMMANDS = [
    line.split("#", 1)[0].strip().rstrip("&").strip()
    for block in SHELL_BLOCKS
    if block not in TWIN_BLOCKS
    for line in block.splitlines()
    if COMMAND.match(line)
]


@pytest.mark.parametrize("line", OTHER_COMMANDS)
def test_other_readme_commands_name_real_commands_and_options(line: str) -> None:
    args = shlex.split(line)[1:] if not line.startswith("$ ") else shlex.split(line[2:])[1:]
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.stderr


def test_the_exit_code_table_lists_every_code() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(code) for code in ExitCode}
