"""Wrong input to any command: one line on stderr and the documented exit code, never a traceback.

Most rows run in-process (typer's CliRunner, stderr kept apart from stdout); the rows
that need a fresh interpreter (a missing optional package, a busy port, the service's
signal handlers) run as a real subprocess.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ddperm.cli as cli
from ddperm.cli import app, commands, report  # noqa: F401  (commands registers every command)
from ddperm.cli.exitcodes import ExitCode
from ddperm.errors import HostError, TransportError
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, serve
from tests.cli_helpers import closed_port, no_ddperm_environment  # noqa: F401

USER, PASSWORD = "twin-admin", "Err0r-table-pw"
USAGE, UNREACHABLE, HOST_FAILED = ExitCode.USAGE, ExitCode.UNREACHABLE, ExitCode.HOST_FAILED


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost(), username=USER, password=PASSWORD) as ep:
        yield ep


@pytest.fixture(scope="module")
def tls_endpoint() -> Iterator[Endpoint]:
    with serve(FakeHost(), username=USER, password=PASSWORD, tls=True) as ep:
        yield ep


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of wrong input files, named by what is wrong with them."""
    folder = tmp_path_factory.mktemp("wrong")
    (folder / "unknown-column.csv").write_text("name,host,colour\npc,10.0.0.1,blue\n")
    (folder / "port-not-a-number.csv").write_text("name,host,port\npc,10.0.0.1,http\n")
    (folder / "port-out-of-range.csv").write_text("name,host,port\npc,10.0.0.1,70000\n")
    (folder / "two-alike.csv").write_text("name,host\npc,10.0.0.1\npc,10.0.0.2\n")
    (folder / "not-json.json").write_text("{not json")
    (folder / "desired-unknown.json").write_text('{"colour": "blue"}')
    (folder / "policy-bad.json").write_text(
        '{"organization": "Not An Org!", "allowed_registries": [], "fetched_at": "x"}'
    )
    (folder / "ca.pem").write_text("not a certificate\n")
    (folder / "a-file").write_text("")
    (folder / "link.log").symlink_to(folder / "elsewhere.log")
    return folder


def connection(ep: Endpoint, *extra: str) -> list[str]:
    return [
        *(ep.host, "--port", str(ep.port), "--http", "--auth", "basic"),
        *("--user", USER, "--encryption", "never", *extra),
    ]


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    """The CLI in-process; passwords come from the environment, as the README advises."""
    result = CliRunner().invoke(app, list(args), env={"DDPERM_PASSWORD": PASSWORD, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def assert_one_error_line(stderr: str, *words: str) -> None:
    assert stderr.startswith("ddperm: error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in stderr, (word, stderr)


H = "dev-pc01.example.com"
CREDENTIALS = ("--auth", "basic", "--user", "u", "--encryption", "never")

# (arguments with {files} / {closed} placeholders, exit code, words the error line must hold)
IN_PROCESS: list[tuple[list[str], int, tuple[str, ...]]] = [
    (["nosuch"], USAGE, ("No such command",)),
    (["health"], USAGE, ("Missing argument",)),
    (["health", H, "--bogus"], USAGE, ("--bogus",)),
    (["audit", "{files}/nope.ini"], USAGE, ("does not exist",)),
    (["audit", "{files}/unknown-column.csv"], USAGE, ("colour",)),
    (["audit", "{files}/port-not-a-number.csv"], USAGE, ("port",)),
    (["audit", "{files}/port-out-of-range.csv"], USAGE, ("port",)),
    (["audit", "{files}/two-alike.csv"], USAGE, ("pc",)),
    (["audit", "{files}/two-alike.csv", "--json", "--csv"], USAGE, ("--csv",)),
    (["audit", "{files}/two-alike.csv", "--concurrency", "0"], USAGE, ("--concurrency",)),
    (["audit", "{files}/two-alike.csv", "--deadline", "0"], USAGE, ("--deadline",)),
    (["health", H, "--port", "70000"], USAGE, ("--port", "70000")),
    (["health", H, "--port", "-1"], USAGE, ("--port",)),
    (["health", H, "--port", "0"], USAGE, ("--port",)),
    (["health", H, "--port", "http"], USAGE, ("--port",)),
    (["health", ""], USAGE, ("host",)),
    (["health", "two words"], USAGE, ("host",)),
    (["health", "pc\x1b[31m"], USAGE, ("host", "\\x1b[31m")),
    (["health", H, "--auth", "ntlm"], USAGE, ("--user",)),
    (["health", H, "--auth", "basic", "--user", "u"], USAGE, ("DDPERM_PASSWORD",)),
    (
        ["health", H, "--auth", "basic", "--user", "u", "--http"],
        USAGE,
        ("--encryption never",),
    ),
    (["health", H, "--auth", "sso"], USAGE, ("--auth",)),
    (["health", H, "--encryption", "sometimes"], USAGE, ("--encryption",)),
    (["health", H, "--ca-cert", "{files}/missing.pem"], USAGE, ("--ca-cert", "does not exist")),
    (["health", H, "--ca-cert", "{files}/ca.pem", "--insecure"], USAGE, ("contradict",)),
    (["health", H, *CREDENTIALS, "--deadline", "-1"], USAGE, ("--deadline",)),
    (["provision", H, *CREDENTIALS], USAGE, ("--check",)),
    (["provision", H, *CREDENTIALS, "--check", "--apply"], USAGE, ("--check",)),
    (
        ["provision", H, *CREDENTIALS, "--check", "--desired", "{files}/nope.json"],
        USAGE,
        ("--desired", "does not exist"),
    ),
    (
        ["provision", H, *CREDENTIALS, "--check", "--desired", "{files}/not-json.json"],
        USAGE,
        ("desired state",),
    ),
    (
        ["provision", H, *CREDENTIALS, "--check", "--desired", "{files}/desired-unknown.json"],
        USAGE,
        ("colour",),
    ),
    (
        ["provision", H, *CREDENTIALS, "--check", "--docker-user", "*"],
        USAGE,
        ("docker-users member",),
    ),
    (["provision", H, *CREDENTIALS, "--check", "--engine", "sideways"], USAGE, ("--engine",)),
    (["provision", H, *CREDENTIALS, "--check", "--vm", "--cpus", "0"], USAGE, ("--cpus",)),
    (["call", "health", "--timeout", "-1"], USAGE, ("--timeout",)),
    (["call", "health", "--timeout", "0"], USAGE, ("--timeout",)),
    (["call", "health", "no-equals-sign", "-a", "{files}/none.sock"], USAGE, ("KEY=VALUE",)),
    (["call", "health", "-a", "{files}/none.sock"], UNREACHABLE, ("cannot connect",)),
    (["vm", "stop", H, *CREDENTIALS, "--timeout", "0"], USAGE, ("--timeout",)),
    (["engine", "start", H, *CREDENTIALS, "--timeout", "601"], USAGE, ("--timeout",)),
    (["vhd", "move", H, *CREDENTIALS, "C:\\Windows"], USAGE, ("refused", "system location")),
    (["vhd", "move", H, *CREDENTIALS, "\\\\?\\C:\\Docker"], USAGE, ("refused",)),
    (["policy", "cache", H, *CREDENTIALS, "--file", "{files}/nope.json"], USAGE, ("--file",)),
    (["policy", "cache", H, *CREDENTIALS, "--file", "{files}/not-json.json"], USAGE, ("--file",)),
    (
        ["policy", "cache", H, *CREDENTIALS, "--file", "{files}/policy-bad.json"],
        USAGE,
        ("organization",),
    ),
    (["twin", "--port", "70000"], USAGE, ("--port",)),
    (["group", "add", "not a user!"], USAGE, ("not a valid",)),
    (["serve", "--backend", "remote"], USAGE, ("--backend",)),
    (["serve", "--read-timeout", "0"], USAGE, ("--read-timeout",)),
    (
        ["health", "127.0.0.1", "--port", "{closed}", "--http", *CREDENTIALS],
        UNREACHABLE,
        ("refused the connection",),
    ),
    (["health", "no-such-host.invalid", "--http", *CREDENTIALS], UNREACHABLE, ("cannot resolve",)),
]


@pytest.mark.parametrize(("args", "code", "words"), IN_PROCESS, ids=lambda v: repr(v)[:60])
def test_wrong_input_is_one_line_and_its_exit_code(
    args: list[str], code: int, words: tuple[str, ...], files: Path
) -> None:
    port = str(closed_port())
    filled = [a.replace("{files}", str(files)).replace("{closed}", port) for a in args]
    no_password = {"DDPERM_PASSWORD": None} if "DDPERM_PASSWORD" in words else None
    exit_code, _, stderr = run(*filled, env=no_password)
    assert exit_code == code, stderr
    assert_one_error_line(stderr, *words)


def test_https_against_an_http_port_says_add_http(endpoint: Endpoint) -> None:
    args = connection(endpoint)
    args.remove("--http")
    exit_code, _, stderr = run("health", *args)
    assert exit_code == UNREACHABLE
    assert_one_error_line(stderr, "--http")


def test_an_untrusted_certificate_names_the_flags(tls_endpoint: Endpoint) -> None:
    done = ddperm_process("health", *connection(tls_endpoint, "--https"))  # the twin logs here
    assert done.returncode == UNREACHABLE
    assert_one_error_line(done.stderr, "not trusted", "--ca-cert")


def test_a_wrong_password_is_an_authentication_failure(endpoint: Endpoint) -> None:
    exit_code, _, stderr = run(
        "hosts", "status", *connection(endpoint), env={"DDPERM_PASSWORD": "not-the-password"}
    )
    assert exit_code == UNREACHABLE
    assert_one_error_line(stderr, "rejected the credentials")
    assert "not-the-password" not in stderr


def test_a_job_the_host_refuses_exits_4(endpoint: Endpoint) -> None:
    exit_code, stdout, stderr = run("vm", "start", *connection(endpoint))  # no VM there
    assert exit_code == HOST_FAILED
    assert stdout == ""
    assert_one_error_line(stderr, "the host reported an error", "DockerDesktopVM")


def test_missing_ca_file_is_not_reported_as_unreachable(files: Path) -> None:
    exit_code, _, stderr = run("health", H, "--ca-cert", str(files / "gone.pem"))
    assert exit_code == USAGE
    assert "unreachable" not in stderr
    assert "resolve" not in stderr


def test_host_text_is_printed_with_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = report(HostError("disk \x1b[31mGONE\x1b[0m\r\nnext\rline\x9b2J", script="vm_start"))
    err = capsys.readouterr().err
    assert code == HOST_FAILED
    assert "\x1b" not in err
    assert "\r" not in err
    shown = "disk \\x1b[31mGONE\\x1b[0m next\\x0dline\\x9b2J [vm_start]"
    assert err == f"ddperm: error: the host reported an error: {shown}\n"


def test_transport_errors_are_one_sentence_not_urllib3_reprs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "pc: ConnectionError: HTTPConnectionPool(host='pc', port=5985): Max retries exceeded "
        "with url: /wsman (Caused by NewConnectionError(\"HTTPConnection(host='pc', port=5985): "
        'Failed to establish a new connection: [Errno 111] Connection refused"))'
    )
    assert report(TransportError(text)) == UNREACHABLE
    err = capsys.readouterr().err
    assert err == (
        "ddperm: error: pc:5985 refused the connection (is WinRM listening on that port?)\n"
    )


def test_an_unexpected_exception_names_its_type_and_v_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report(RuntimeError("boom")) == ExitCode.INTERNAL
    quiet = capsys.readouterr().err
    assert quiet == "ddperm: error: unexpected RuntimeError: boom (run with -v for the traceback)\n"
    monkeypatch.setitem(cli._state, "verbose", 1)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        report(exc)
    verbose = capsys.readouterr().err
    assert verbose.startswith("Traceback (most recent call last):")
    assert verbose.endswith("(run with -v for the traceback)\n")


def test_a_declined_confirmation_exits_130_without_changing_anything(endpoint: Endpoint) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--host", *connection(endpoint)],
        input="n\n",
        env={"DDPERM_PASSWORD": PASSWORD},
    )
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stderr.endswith("ddperm: aborted\n")


def test_no_arguments_prints_the_help_with_the_exit_codes() -> None:
    exit_code, _, stderr = run()
    assert exit_code == USAGE
    assert "Exit codes:" in stderr
    assert "Traceback" not in stderr


# -- rows that need their own interpreter ---------------------------------------------------


def ddperm_process(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m ddperm ARGS`` (``code`` runs first, e.g. to hide an optional package)."""
    program = f"{code}\nimport sys\nfrom ddperm.cli import main\nsys.argv[0] = 'ddperm'\nmain()"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    env["DDPERM_PASSWORD"] = PASSWORD
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_twin_without_its_extra_names_the_pip_command() -> None:
    done = ddperm_process("twin", "--port", "0", code="import sys; sys.modules['psrpcore'] = None")
    assert done.returncode == USAGE
    assert_one_error_line(done.stderr, "pip install 'ddperm[twin]'")


def test_twin_on_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = ddperm_process("twin", "--port", str(busy.getsockname()[1]))
    assert done.returncode == USAGE
    assert_one_error_line(done.stderr, "--port", "in use")


@pytest.mark.parametrize(
    ("audit_log", "words"),
    [("link.log", ("symbolic link",)), ("a-file/audit.jsonl", ("a-file",))],
)
def test_serve_refuses_an_audit_log_it_cannot_use_safely(
    files: Path, audit_log: str, words: tuple[str, ...]
) -> None:
    from tests.test_service_helpers import own_group

    done = ddperm_process(
        *("serve", "-a", str(files / "s.sock"), "--group", own_group()),
        *("--audit-log", str(files / audit_log)),
    )
    assert done.returncode == USAGE
    assert_one_error_line(done.stderr, *words)


def test_serve_local_without_powershell_is_a_usage_error(tmp_path: Path) -> None:
    from tests.test_service_helpers import own_group

    program = "import os; os.environ['PATH'] = " + repr(str(tmp_path))
    done = ddperm_process(
        *("serve", "--backend", "local", "-a", str(tmp_path / "s.sock"), "--group", own_group()),
        *("--audit-log", str(tmp_path / "audit.jsonl")),
        code=program,
    )
    assert done.returncode == USAGE
    assert_one_error_line(done.stderr, "--backend local", "not found")


def test_ctrl_c_in_audit_exits_130_and_a_second_one_stays_quiet(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers: the audit waits
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        inventory = tmp_path / "fleet.csv"
        inventory.write_text(
            "name,host,port,ssl,auth,encryption,username,password\n"
            f"pc,127.0.0.1,{silent.getsockname()[1]},no,basic,never,u,p\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "ddperm", "audit", str(inventory), "--deadline", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        process.stderr.read(1)  # the progress bar: the audit has started
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED
    assert "Traceback" not in out + err


# -- passwords never need the command line (issue 11, finding 8) -------------------------------


def test_a_password_on_the_command_line_works_with_a_warning() -> None:
    from ddperm.testing import FakeHost
    from ddperm.testing.winrm import serve

    with serve(FakeHost(), auth="ntlm", password="Cli-Secret-1") as endpoint:
        flags = ["--port", str(endpoint.port), "--http", "--auth", "ntlm", "--user", "ddperm"]
        done = subprocess.run(
            [sys.executable, "-m", "ddperm", "vm", "info", "127.0.0.1", *flags,
             "--password", "Cli-Secret-1"],
            capture_output=True, text=True, timeout=120, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "visible to every local user" in done.stderr
    assert "Cli-Secret-1" not in done.stdout + done.stderr


def test_a_password_from_standard_input_needs_no_command_line() -> None:
    from ddperm.testing import FakeHost
    from ddperm.testing.winrm import serve

    with serve(FakeHost(), auth="ntlm", password="Stdin-Secret-2") as endpoint:
        flags = ["--port", str(endpoint.port), "--http", "--auth", "ntlm", "--user", "ddperm"]
        done = subprocess.run(
            [sys.executable, "-m", "ddperm", "vm", "info", "127.0.0.1", *flags, "--password", "-"],
            input="Stdin-Secret-2\n", capture_output=True, text=True, timeout=120, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
