"""What the CLI prints: whole words in pipes, inert outside text, help, version, -v, Ctrl-C."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ddperm.cli import app, commands  # noqa: F401  (commands registers every command)
from ddperm.cli.exitcodes import ExitCode
from ddperm.cli.output import clean
from ddperm.components.system import ddperm_version
from ddperm.fleet import FleetReport, HostResult
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, serve
from tests.cli_helpers import closed_port, no_ddperm_environment  # noqa: F401

USER, PASSWORD = "out-admin", "0utput-pw"


@pytest.fixture(scope="module")
def healthy() -> Iterator[Endpoint]:
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    with serve(fake, username=USER, password=PASSWORD) as ep:
        yield ep


def invoke(*args: str, env: dict[str, str] | None = None) -> typer.testing.Result:
    return CliRunner().invoke(app, list(args), env=env)


def inventory(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    lines = ["name,host,port,ssl,auth,encryption,username,password"]
    lines += [f"{name},{host},{port},no,basic,never,{USER},{PASSWORD}" for name, host, port in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_no_column_is_cut_short_in_a_pipe(tmp_path: Path, healthy: Endpoint) -> None:
    rows = [("pc-good", healthy.host, healthy.port), ("pc-gone", "127.0.0.1", closed_port())]
    result = invoke("audit", str(inventory(tmp_path / "f.csv", rows)), "-q", env={"COLUMNS": "40"})
    assert result.exit_code == ExitCode.PROBLEMS
    assert "…" not in result.stdout
    gone = next(line for line in result.stdout.splitlines() if "pc-gone" in line)
    assert "unreachable" in gone
    assert "refused the connection" in gone  # one sentence, not urllib3's repr
    assert "HTTPConnectionPool" not in result.stdout


def test_target_names_from_an_inventory_are_printed_escaped(tmp_path: Path) -> None:
    rows = [("pc\x1b[31mred\x1b[0m", "127.0.0.1", closed_port())]
    path = inventory(tmp_path / "f.csv", rows)
    table = invoke("audit", str(path), "-q")
    as_csv = invoke("audit", str(path), "-q", "--csv")
    as_json = invoke("audit", str(path), "-q", "--json")
    for result in (table, as_csv, as_json):
        assert result.exit_code == ExitCode.PROBLEMS
        assert "\x1b" not in result.stdout
    assert "pc\\x1b[31mred\\x1b[0m" in table.stdout
    assert "pc\\x1b[31mred\\x1b[0m" in as_csv.stdout
    assert json.loads(as_json.stdout)["results"][0]["name"] == "pc\x1b[31mred\x1b[0m"


def test_clean_escapes_c0_c1_and_bidi_controls_but_keeps_lines() -> None:
    assert clean("a\x1b[2Jb\x07c\x9bd\u202ee\tf\r\ng") == "a\\x1b[2Jb\\x07c\\x9bd\\u202ee\tf\ng"


def test_ctrl_c_prints_the_hosts_that_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, healthy: Endpoint
) -> None:
    """``audit()`` raising an interrupt that carries the partial report (``.report``)."""
    answered = HostResult(name="pc-done", server="10.0.0.1", outcome="healthy", seconds=0.1)
    partial = FleetReport(results=(answered,), seconds=1.0)

    class Interrupted(KeyboardInterrupt):
        report = partial

    def interrupted_audit(*args: object, **kwargs: object) -> FleetReport:
        raise Interrupted

    monkeypatch.setattr("ddperm.cli.fleet.audit", interrupted_audit)
    monkeypatch.setattr("ddperm.cli.fleet.quiet_second_interrupt", lambda: None)
    path = inventory(tmp_path / "f.csv", [("pc-done", healthy.host, healthy.port)])
    result = invoke("audit", str(path), "-q", "--json")
    assert result.exit_code == ExitCode.INTERRUPTED
    assert [r["name"] for r in json.loads(result.stdout)["results"]] == ["pc-done"]
    assert result.stderr == "ddperm: interrupted; the hosts that answered so far:\n"


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_help_shows_flags_without_a_bool_metavar() -> None:
    paths = list(_commands(typer.main.get_command(app)))
    assert ("vm", "start") in paths
    assert ("policy", "cache") in paths
    for path in paths:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        for word in ("<bool>", "BOOLEAN", "<boolean>"):
            assert word not in result.stdout, (path, result.stdout)
    health = invoke("health", "--help").stdout
    for flag in ("--https / --http", "negotiate|ntlm", "auto|always|never", "[default: 60.0]"):
        assert flag in health, flag


def test_root_help_lists_the_exit_codes() -> None:
    text = invoke("--help").stdout
    for code in ExitCode:
        assert f"{code.value:>3}  {code.meaning}" in text


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"ddperm {ddperm_version()}\n"


def test_verbose_logs_to_stderr(healthy: Endpoint) -> None:
    options = [healthy.host, "--port", str(healthy.port), "--http", "--auth", "basic"]
    options += ["--user", USER, "--encryption", "never"]
    quiet = invoke("hosts", "status", *options, env={"DDPERM_PASSWORD": PASSWORD})
    assert quiet.stderr == ""
    loud = invoke("-v", "hosts", "status", *options, env={"DDPERM_PASSWORD": PASSWORD})
    assert loud.exit_code == 0
    assert f"INFO ddperm.cli.connection: {healthy.host}: --port {healthy.port}" in loud.stderr
    assert PASSWORD not in loud.stderr
    assert logging.getLogger("ddperm").level == logging.INFO
    invoke("-vv", "hosts", "status", *options, env={"DDPERM_PASSWORD": PASSWORD})
    assert logging.getLogger("ddperm").level == logging.DEBUG
