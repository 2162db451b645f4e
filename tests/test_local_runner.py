"""LocalRunner at the process boundary, against small scripted stand-ins for powershell.exe.

Each test writes an executable that plays one situation (real stderr captures, a
hang, a crash, odd stdout) so the runner's mapping to answers and errors is seen
on real processes and pipes.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ddperm
from ddperm.errors import ConfigurationError, HostError, PolicyError, TransportError
from ddperm.scripts import Script, default_registry
from ddperm.transports import local as local_module
from ddperm.transports.local import LocalRunner, native_path, wrapper_text
from tests.fixtures import REAL_WINDOWS

CLIXML = REAL_WINDOWS / "clixml"
PROGRESS_ONLY = CLIXML / "stderr-progress-only-pywinrm.clixml"
WITH_ERROR = CLIXML / "stderr-progress-and-commandnotfound-error-pywinrm.clixml"
PRELUDE = """\
import json, os, subprocess, sys, time
def frame(value):
    sys.stdout.write(json.dumps(value) + "\\r\\n")
    sys.stdout.flush()
def stderr_from(path):
    sys.stderr.write(open(path, encoding="utf-8").read())
    sys.stderr.flush()
"""

MakeExe = Callable[[str], str]


@pytest.fixture
def make_exe(tmp_path: Path) -> MakeExe:
    def make(body: str) -> str:
        path = tmp_path / "powershell"
        path.write_text(f"#!{sys.executable}\n{PRELUDE}{textwrap.dedent(body)}", encoding="utf-8")
        path.chmod(0o755)
        return str(path)

    return make


@pytest.fixture
def script() -> Script:
    return default_registry().get("version")


def test_progress_records_on_stderr_do_not_fail_a_call(make_exe: MakeExe, script: Script) -> None:
    exe = make_exe(f"""
        sys.stdin.readline()
        stderr_from({str(PROGRESS_ONLY)!r})
        frame({{"output": '{{"answer":42}}'}})
    """)
    assert LocalRunner(exe).run(script, {}) == '{"answer":42}'


def test_an_error_record_on_stderr_without_a_frame_is_a_host_error(
    make_exe: MakeExe, script: Script
) -> None:
    exe = make_exe(f"""
        sys.stdin.readline()
        stderr_from({str(WITH_ERROR)!r})
        sys.exit(1)
    """)
    with pytest.raises(HostError) as caught:
        LocalRunner(exe).run(script, {})
    assert caught.value.fully_qualified_error_id == "CommandNotFoundException"
    assert caught.value.category == "ObjectNotFound"
    assert caught.value.script == "version"


@pytest.mark.parametrize("code", [0, 3])
def test_an_exit_without_answer_or_error_record_is_a_transport_error(
    make_exe: MakeExe, script: Script, code: int
) -> None:
    exe = make_exe(f"""
        sys.stdin.readline()
        stderr_from({str(PROGRESS_ONLY)!r})
        sys.exit({code})
    """)
    with pytest.raises(TransportError, match=f"exited with code {code} without an answer"):
        LocalRunner(exe).run(script, {})


def test_an_error_frame_is_a_host_error_with_the_record(make_exe: MakeExe, script: Script) -> None:
    record = {
        "message": "Hyper-V was unable to find a virtual machine with name \u201cx\u201d.",
        "fully_qualified_error_id": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
        "category": "InvalidArgument",
        "target": "x",
        "exception_type": "Microsoft.HyperV.PowerShell.VirtualizationException",
    }
    exe = make_exe(f"""
        sys.stdin.readline()
        frame({{"error": {record!r}}})
    """)
    with pytest.raises(HostError) as caught:
        LocalRunner(exe).run(script, {})
    error = caught.value
    assert error.message == record["message"]
    assert error.fully_qualified_error_id == record["fully_qualified_error_id"]
    assert (error.category, error.target) == ("InvalidArgument", "x")
    assert error.exception_type == record["exception_type"]


def test_host_output_on_stdout_is_not_taken_for_a_frame(make_exe: MakeExe, script: Script) -> None:
    exe = make_exe("""
        sys.stdin.readline()
        print("WARNING: written with Write-Host")
        print('{"something": "else"}')
        print('{"output": 1}')
        frame({"output": "[1]"})
    """)
    assert LocalRunner(exe).run(script, {}) == "[1]"


def test_a_broken_frame_is_no_answer(make_exe: MakeExe, script: Script) -> None:
    exe = make_exe("""
        sys.stdin.readline()
        print('{"output": "unterminated')
        print('{"error": "not a record"}')
    """)
    with pytest.raises(TransportError, match="without an answer"):
        LocalRunner(exe).run(script, {})


def test_a_missing_executable_is_reported_before_any_call(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-powershell")
    with pytest.raises(ConfigurationError, match=r"no-such-powershell.*was not found"):
        LocalRunner(missing)
    with pytest.raises(ConfigurationError, match="'pwsh-nowhere' was not found"):
        ddperm.local("pwsh-nowhere", env={"PATH": str(tmp_path)})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -1.5}, "timeout must be a positive number"),
        ({"timeout": True}, "timeout must be a positive number"),
        ({"env": {"PATH": 1}}, "env must map variable names to text values"),
    ],
)
def test_bad_local_settings_are_refused_at_once(
    make_exe: MakeExe, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ddperm.local(make_exe(""), **options)


def test_an_executable_that_cannot_start_is_a_transport_error(
    make_exe: MakeExe, script: Script
) -> None:
    exe = make_exe("")
    runner = LocalRunner(exe)
    Path(exe).write_bytes(b"#!/no/such/interpreter\n")
    with pytest.raises(TransportError, match="cannot start"):
        runner.run(script, {})


def test_parameters_travel_on_stdin_never_on_the_command_line(
    make_exe: MakeExe, script: Script, tmp_path: Path
) -> None:
    seen = tmp_path / "seen.json"
    exe = make_exe(f"""
        line = sys.stdin.buffer.readline()
        seen = {{"argv": sys.argv[1:], "line": line.decode("latin-1")}}
        json.dump(seen, open({str(seen)!r}, "w"))
        frame({{"output": "{{}}"}})
    """)
    value = "secret 'quoted' \"double\" $env:PATH `n; & calc.exe \u00fc\u4e2d\U0001f600"
    LocalRunner(exe).run(script, {"Name": value, "Count": 3, "Items": ["a b", "c"], "Force": True})
    recorded = json.loads(seen.read_text())
    argv = recorded["argv"]
    assert argv[:5] == [
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    ]
    assert len(argv) == 6
    assert base64.b64decode(argv[5]).decode("utf-16-le") == wrapper_text()
    assert not any("secret" in arg for arg in argv)
    line = recorded["line"]
    assert line.isascii()
    assert line.endswith("\n")
    request = json.loads(line)
    assert request["script"] == script.text
    assert request["parameters"] == {
        "Name": value,
        "Count": 3,
        "Items": ["a b", "c"],
        "Force": True,
    }


def test_a_large_non_ascii_answer_survives(make_exe: MakeExe, script: Script) -> None:
    exe = make_exe("""
        sys.stdin.readline()
        hosts = "127.0.0.1 caf\\u00e9.local\\r\\n" * 200_000
        text = json.dumps({"hosts": hosts}, ensure_ascii=False)
        frame({"output": text})
    """)
    answer = LocalRunner(exe).run(script, {})
    assert json.loads(answer)["hosts"] == "127.0.0.1 caf\u00e9.local\r\n" * 200_000


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_hung_process_is_killed_with_its_children(
    make_exe: MakeExe, script: Script, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    exe = make_exe(f"""
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
    """)
    with pytest.raises(TransportError, match="killed its process tree"):
        LocalRunner(exe, timeout=3).run(script, {})
    parent, child = map(int, pids.read_text().split())
    while alive(parent) or alive(child):  # SIGKILL is delivered; pytest-timeout bounds this
        os.sched_yield()


def test_a_persistent_session_serves_many_calls_with_one_process(
    make_exe: MakeExe, script: Script, tmp_path: Path
) -> None:
    log = tmp_path / "pids"
    exe = make_exe(f"""
        for line in sys.stdin:
            with open({str(log)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            frame({{"output": json.dumps(json.loads(line)["parameters"])}})
    """)
    runner = LocalRunner(exe, persistent=True)
    try:
        answers = [runner.run(script, {"N": n}) for n in range(5)]
    finally:
        runner.close()
    assert answers == [json.dumps({"N": n}) for n in range(5)]
    assert len(set(log.read_text().split())) == 1


def test_a_persistent_session_restarts_after_its_process_died(
    make_exe: MakeExe, script: Script, tmp_path: Path
) -> None:
    log = tmp_path / "pids"
    exe = make_exe(f"""
        for line in sys.stdin:
            with open({str(log)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            frame({{"output": "1"}})
    """)
    runner = LocalRunner(exe, persistent=True)
    try:
        assert runner.run(script, {}) == "1"
        first = int(log.read_text().split()[0])
        os.kill(first, signal.SIGKILL)
        while alive(first):
            os.sched_yield()
        assert [runner.run(script, {}) for _ in range(2)] == ["1", "1"]
    finally:
        runner.close()
    pids = log.read_text().split()
    assert len(pids) == 3
    assert len(set(pids)) == 2
    assert int(pids[1]) != first


def test_a_modified_wrapper_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tampered = tmp_path / "local_wrapper.ps1"
    tampered.write_text(wrapper_text() + "Remove-Item C:\\ -Recurse\n", encoding="utf-8")
    monkeypatch.setattr(local_module, "WRAPPER", tampered)
    wrapper_text.cache_clear()
    try:
        with pytest.raises(PolicyError, match="pinned SHA-256"):
            LocalRunner(sys.executable)
    finally:
        monkeypatch.undo()
        wrapper_text.cache_clear()
    assert "Remove-Item" not in wrapper_text()


SYSTEM32_PS = r"C:\WINDOWS\system32\WindowsPowerShell\v1.0\powershell.exe"
WOW64 = {
    "SystemRoot": r"C:\WINDOWS",
    "PROCESSOR_ARCHITECTURE": "x86",
    "PROCESSOR_ARCHITEW6432": "AMD64",
}


@pytest.mark.parametrize(
    ("executable", "environ", "bits", "expected"),
    [
        # 32-bit Python on 64-bit Windows: System32 means SysWOW64 to it; Sysnative is the real one
        (SYSTEM32_PS, WOW64, 32, r"C:\WINDOWS\Sysnative\WindowsPowerShell\v1.0\powershell.exe"),
        (
            SYSTEM32_PS.lower(),
            {"SYSTEMROOT": "c:\\windows\\", "PROCESSOR_ARCHITEW6432": "ARM64"},
            32,
            r"c:\windows\Sysnative\windowspowershell\v1.0\powershell.exe",
        ),
        (SYSTEM32_PS, {**WOW64, "PROCESSOR_ARCHITEW6432": ""}, 32, SYSTEM32_PS),  # 32-bit Windows
        (SYSTEM32_PS, {"SystemRoot": r"C:\WINDOWS"}, 32, SYSTEM32_PS),  # 32-bit Windows
        (SYSTEM32_PS, WOW64, 64, SYSTEM32_PS),  # a 64-bit Python sees the real System32
        (
            r"C:\Program Files\PowerShell\7\pwsh.exe",
            WOW64,
            32,
            r"C:\Program Files\PowerShell\7\pwsh.exe",
        ),
        (
            r"C:\WINDOWS\SysWOW64\WindowsPowerShell\v1.0\powershell.exe",
            WOW64,
            32,
            r"C:\WINDOWS\SysWOW64\WindowsPowerShell\v1.0\powershell.exe",
        ),  # asked for by path
        ("/usr/bin/pwsh", {}, 64, "/usr/bin/pwsh"),
    ],
)
def test_a_32_bit_python_starts_the_64_bit_windows_powershell(
    executable: str, environ: dict[str, str], bits: int, expected: str
) -> None:
    assert native_path(executable, environ=environ, pointer_bits=bits) == expected
