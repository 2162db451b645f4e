"""The local transport end to end: LocalRunner, the stand-in powershell and the FakeHost agent."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddperm.components.policy import RegistryPolicy
from ddperm.errors import HostError
from ddperm.scripts import default_registry
from ddperm.testing import FakeHost
from ddperm.testing.standin import STANDIN, Agent, standin_host, write_launcher
from ddperm.transports.clixml import decode_stderr, host_error
from ddperm.transports.local import LocalRunner, command_line, wrapper_text
from tests.test_local_runner import alive

VERSION = default_registry().get("version")
# Quotes, spaces, $, backticks, semicolons, non-ASCII, astral characters and line breaks:
# everything that broke peers that spliced values into command text.
NASTY = st.text(
    st.sampled_from("'\"`$;&|(){}@# \t\r\n\\\u00fc\u4e2d\U0001f600\u200b")
    | st.characters(blacklist_categories=("Cs",)),
    max_size=40,
)
ONCE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def fake() -> FakeHost:
    return FakeHost()


@pytest.fixture
def agent(fake: FakeHost) -> Iterator[Agent]:
    with Agent(fake) as served:
        yield served


@pytest.fixture
def launcher(tmp_path: Path) -> str:
    return str(write_launcher(tmp_path))


@pytest.fixture
def session(launcher: str, agent: Agent) -> Iterator[LocalRunner]:
    runner = LocalRunner(launcher, persistent=True, env=agent.env)
    yield runner
    runner.close()


@ONCE
@given(value=NASTY)
def test_parameter_values_reach_the_host_untouched(
    session: LocalRunner, fake: FakeHost, value: str
) -> None:
    # version takes no parameters: the twin records the call, then refuses the name
    with pytest.raises(HostError) as caught:
        session.run(VERSION, {"Value": value, "Values": [value, "x y"], "Count": -7})
    assert fake.calls[-1] == ("version", {"Value": value, "Values": [value, "x y"], "Count": -7})
    assert caught.value.fully_qualified_error_id == "NamedParameterNotFound,version"
    assert caught.value.target == "Value"


@ONCE
@given(name=NASTY.filter(str.strip))
def test_answers_come_back_untouched(session: LocalRunner, fake: FakeHost, name: str) -> None:
    fake.os.computer_name = name
    assert json.loads(session.run(VERSION, {}))["computer_name"] == name


def test_one_shot_calls_start_one_process_each(launcher: str, agent: Agent) -> None:
    runner = LocalRunner(launcher, env=agent.env)
    for _ in range(3):
        runner.run(VERSION, {})
    assert len(agent.pids) == 3
    assert len(set(agent.pids)) == 3


def test_a_persistent_session_reuses_one_process(session: LocalRunner, agent: Agent) -> None:
    for _ in range(10):
        session.run(VERSION, {})
    assert len(agent.pids) == 10
    assert len(set(agent.pids)) == 1


def test_a_persistent_session_is_thread_safe(
    session: LocalRunner, agent: Agent, fake: FakeHost
) -> None:
    def call(n: int) -> str:
        return session.run(VERSION, {"N": n}) if n % 2 else session.run(VERSION, {})

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(call, n) for n in range(40)]
    outcomes = [f.exception() or json.loads(f.result())["os_build"] for f in futures]
    assert outcomes[0::2] == [fake.os.build] * 20
    assert all(isinstance(o, HostError) for o in outcomes[1::2])
    assert sorted(params.get("N", -1) for _, params in fake.calls) == [-1] * 20 + list(
        range(1, 40, 2)
    )
    assert len(set(agent.pids)) == 1


def test_standin_host_runs_the_public_api(fake: FakeHost) -> None:
    fake.os.build = 19045
    with standin_host(fake) as host:
        assert host.version().host.os_build == 19045
    assert fake.calls == [("version", {})]


# -- the stand-in at the process boundary, driven directly ----------------------------


def standin(
    args: list[str], stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(STANDIN), *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=60,
    )


def encoded(text: str) -> str:
    return base64.b64encode(text.encode("utf-16-le")).decode("ascii")


def test_an_unknown_switch_starts_a_command_that_is_not_found() -> None:
    done = standin(["-NoProfile", "-Foo", "-EncodedCommand", encoded(wrapper_text())])
    assert done.returncode == 1
    stderr = done.stderr.decode()
    assert not stderr.startswith("#< CLIXML")  # not an encoded command: plain text
    error = host_error(decode_stderr(stderr))
    assert error is not None
    assert error.fully_qualified_error_id == "CommandNotFoundException"
    assert error.target == "-Foo"
    assert "The term '-Foo' is not recognized" in error.message


def test_an_unknown_switch_after_the_command_is_a_command_line_error() -> None:
    done = standin(["-EncodedCommand", encoded(wrapper_text()), "-Foo"])
    assert done.returncode == 64
    assert b"a command is already specified" in done.stderr


@pytest.mark.parametrize(
    "args",
    [["-EncodedCommand", "not base64!"], ["-EncodedCommand"], ["-OutputFormat", "Yaml"]],
)
def test_bad_command_lines_exit_with_64(args: list[str]) -> None:
    done = standin(args)
    assert done.returncode == 64
    assert done.stdout == b""


def test_an_encoded_command_other_than_the_wrapper_fails_in_clixml() -> None:
    done = standin(["-NonInteractive", "-EncodedCommand", encoded("Remove-Item C:\\ -Recurse")])
    assert done.returncode == 1
    assert done.stderr.startswith(b"#< CLIXML\r\n")
    error = host_error(decode_stderr(done.stderr.decode()))
    assert error is not None
    assert error.fully_qualified_error_id == "CommandNotFoundException"
    assert error.target == "Remove-Item"


def test_abbreviated_switches_run_the_wrapper(agent: Agent) -> None:
    request = json.dumps({"script": VERSION.text, "parameters": {}}).encode() + b"\n"
    args = ["/nop", "\u2013noni", "--ep", "Bypass", "-enc", encoded(wrapper_text())]
    done = standin(args, request * 2, agent.env)
    assert done.returncode == 0
    frames = done.stdout.split(b"\r\n")
    assert frames[2:] == [b""]
    assert [json.loads(f)["output"] for f in frames[:2]] == [json.loads(frames[0])["output"]] * 2
    assert len(agent.pids) == 2


def test_a_request_that_is_not_json_stops_the_wrapper_with_an_error_record(agent: Agent) -> None:
    done = standin(command_line("x")[1:], b"hello\n", agent.env)
    assert done.returncode == 1
    assert done.stdout == b""
    error = host_error(decode_stderr(done.stderr.decode()))
    assert error is not None
    assert error.fully_qualified_error_id == (
        "System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand"
    )
    assert error.exception_type == "ArgumentException"
    assert agent.pids == []


def test_text_that_is_not_a_vetted_script_is_refused(agent: Agent, fake: FakeHost) -> None:
    request = json.dumps({"script": VERSION.text + "\nStop-Computer", "parameters": {}})
    done = standin(command_line("x")[1:], request.encode() + b"\n", agent.env)
    assert done.returncode == 0
    frame = json.loads(done.stdout)
    assert frame["error"]["fully_qualified_error_id"] == "DdpermStandInUnvettedScript"
    assert fake.calls == []


def test_errors_are_plain_text_when_stderr_is_a_console() -> None:
    controller, console = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, str(STANDIN), "-EncodedCommand", encoded("Get-Nothing")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=console,
            check=False,
            timeout=60,
        )
        os.close(console)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once everything written was read
            while chunk := os.read(controller, 65536):
                shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 1
    assert b"The term 'Get-Nothing' is not recognized" in shown
    assert b"CLIXML" not in shown


def test_a_request_without_parameters_stops_the_wrapper(agent: Agent) -> None:
    done = standin(command_line("x")[1:], b'{"script": "x"}\n', agent.env)
    assert done.returncode == 1
    error = host_error(decode_stderr(done.stderr.decode()))
    assert error is not None
    assert error.fully_qualified_error_id == "PropertyNotFoundStrict"


def test_a_request_without_a_script_gets_an_error_frame_and_the_wrapper_goes_on(
    agent: Agent,
) -> None:
    good = json.dumps({"script": VERSION.text, "parameters": {}})
    stdin = f'{{"parameters": {{}}}}\n{good}\n'.encode()
    done = standin(command_line("x")[1:], stdin, agent.env)
    assert done.returncode == 0
    first, second = (json.loads(f) for f in done.stdout.split(b"\r\n")[:2])
    assert first["error"]["fully_qualified_error_id"] == "PropertyNotFoundStrict"
    assert "os_build" in json.loads(second["output"])


def test_no_process_outlives_its_call_or_its_session(launcher: str, agent: Agent) -> None:
    LocalRunner(launcher, env=agent.env).run(VERSION, {})
    one_shot = agent.pids[-1]
    session = LocalRunner(launcher, persistent=True, env=agent.env)
    session.run(VERSION, {})
    kept = agent.pids[-1]
    assert alive(kept)
    session.close()
    # both gone and reaped by the runner: not even a zombie left in /proc
    assert not Path(f"/proc/{one_shot}").exists()
    assert not Path(f"/proc/{kept}").exists()


def test_a_date_parameter_reaches_powershell_7_as_the_same_string(fake: FakeHost) -> None:
    """pwsh's ConvertFrom-Json (Json.NET) would read FetchedAt as a [datetime] and bind
    '11/23/2026 09:30:15' to the [string] parameter, which policy_cache refuses."""
    fake.edition = "Core"
    fetched = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=timezone.utc)
    policy = RegistryPolicy(
        organization="myorg", allowed_registries=["docker.io"], fetched_at=fetched
    )
    with standin_host(fake) as host:
        assert host.policy.cache(policy).fetched_at == fetched
        assert host.policy.read().fetched_at == fetched
    assert fake.calls[0] == (
        "policy_cache",
        {
            "Organization": "myorg",
            "AllowedRegistries": ["docker.io"],
            "FetchedAt": "2026-11-23T09:30:15.123456Z",
        },
    )
