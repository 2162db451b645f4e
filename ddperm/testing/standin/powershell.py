"""A stand-in for powershell.exe that answers from a test's FakeHost (stdlib only).

It behaves like Windows PowerShell 5.1's console host at the process boundary, as
far as ddperm's local transport (``ddperm/transports/local.py``) and its tests go:

- Command line, parsed like ConsoleHost's CommandLineParameterParser: ``-``, ``/``
  or ``--`` prefixes (en dash, em dash and horizontal bar count as dashes),
  case-insensitive unambiguous abbreviations (``-nop``, ``-noni``, ``-ep``, ``-ec``,
  ``-enc``), values for ``-ExecutionPolicy``, ``-OutputFormat``,
  ``-InputFormat``, ``-WindowStyle``. The first unrecognised argument starts a
  plain command made of the remaining arguments (so ``-Foo`` fails as a command
  not found, exit 1). A missing value, a bad format, bad base64 or a second command
  is a command-line error: a message on stderr and exit 64 (pwsh's code; 5.1 uses
  0xFFFD0000, which is no POSIX exit status).
- ``-EncodedCommand``: base64 of UTF-16LE. Only ddperm's wrapper (the SHA-256 of
  ``local_wrapper.ps1``) runs; any other command fails as a command not found.
- The wrapper's protocol: JSON requests on stdin, one ASCII JSON frame per request on
  stdout (CRLF-terminated, flushed). Each script is identified by the SHA-256 of its
  text and run by the agent (``DDPERM_STANDIN_AGENT``) against the FakeHost.
- stderr: error records rendered as the host renders them, serialised as CLIXML
  (``<S S="Error">`` lines in one ``<Objs>``) when the command was encoded and stderr
  is redirected (ConsoleHost's ErrorFormat rule), plain text otherwise.
- When the twin cuts the link (a power cut) the process kills itself: no answer.
- Exit code: 0 when stdin ended, 1 after a terminating error (a request that is not a
  JSON object with ``parameters``; one without ``script`` only gets an error frame, as
  the wrapper reads it inside its ``try``) or a command not found.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

WRAPPER = Path(__file__).resolve().parents[2] / "transports" / "local_wrapper.ps1"
AGENT_VAR = "DDPERM_STANDIN_AGENT"
EXIT_BAD_COMMAND_LINE = 64
NAMESPACE = "http://schemas.microsoft.com/powershell/2004/04"
FLAGS = [("noexit", "noe"), ("noprofile", "nop"), ("nologo", "nol"), ("noninteractive", "noni")]
VALUED = [
    ("windowstyle", "w"),
    ("outputformat", "o"),
    ("of", "o"),
    ("inputformat", "i"),
    ("if", "i"),
    ("executionpolicy", "ex"),
    ("ep", "ep"),
]
COMMANDS = [("command", "c"), ("encodedcommand", "e"), ("ec", "e")]
FORMATS = ("text", "xml", "none")
DASHES = "-\u2013\u2014\u2015"  # PowerShell takes en dash, em dash and horizontal bar too
MISSING = "The property '{}' cannot be found on this object. Verify that the property exists."
MISSING_SCRIPT = {
    "message": MISSING.format("script"),
    "fully_qualified_error_id": "PropertyNotFoundStrict",
    "category": "NotSpecified",
    "target": "",
    "exception_type": "System.Management.Automation.PropertyNotFoundException",
}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def matches(key: str, table: list[tuple[str, str]]) -> str | None:
    """The switch ``key`` abbreviates (at least its shortest unambiguous form), if any."""
    for name, shortest in table:
        if name.startswith(key) and len(key) >= len(shortest):
            return name
    return None


def command_line_error(message: str) -> NoReturn:
    sys.stderr.write(message + "\n")
    sys.exit(EXIT_BAD_COMMAND_LINE)


def parse(args: list[str]) -> tuple[str, bool]:
    """The command to run and whether it came encoded, as powershell.exe parses argv."""
    command: str | None = None
    encoded = False
    i = 0
    while i < len(args):
        key = args[i].strip().lower()
        name = None
        if not key:
            i += 1
            continue
        if key[0] in DASHES + "/":
            key = key[2:] if key[1:2] and key[1] in DASHES else key[1:]
            if matches(key, FLAGS):
                i += 1
                continue
            valued = matches(key, VALUED)
            if valued:
                check_value(args, i, valued)
                i += 2
                continue
            name = matches(key, COMMANDS)
        # -Command/-EncodedCommand and its value, or the first unknown argument and the rest
        if command is not None:
            command_line_error(
                "Cannot process command because a command is already specified with"
                " -Command or -EncodedCommand."
            )
        if name is None:
            return " ".join(args[i:]), False
        if i + 1 >= len(args):
            command_line_error(
                "Cannot process the command because of a missing parameter."
                f" A command must follow -{name}."
            )
        if name == "command":
            return " ".join(args[i + 1 :]), False
        try:
            command = base64.b64decode(args[i + 1], validate=True).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError):
            command_line_error(
                "Cannot process the command because the value specified with -EncodedCommand"
                " is not properly encoded. The value must be Base64 encoded."
            )
        encoded = True
        i += 2
    if command is None:
        command_line_error("The stand-in has no interactive prompt: pass -EncodedCommand.")
    return command, encoded


def check_value(args: list[str], i: int, name: str) -> None:
    if i + 1 >= len(args):
        command_line_error(f"Cannot process the command because -{name} needs a value.")
    if "format" in name and args[i + 1].lower() not in FORMATS:
        command_line_error(
            f'Cannot process the command because "{args[i + 1]}" is not a valid format.'
            " Specify one of the following: Text XML None"
        )


def escape(text: str) -> str:
    """CLIXML string content: XML-escaped; ``_x`` and characters XML cannot hold as ``_xHHHH_``."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("_x", "_x005F_x")
    return "".join(f"_x{ord(c):04X}_" if ord(c) < 0x20 or c in "\ufffe\uffff" else c for c in out)


def render(
    message: str,
    *,
    invocation: str,
    source: str,
    snippet: str,
    category: str,
    activity: str,
    reason: str,
    fqid: str,
    target: str = "",
) -> list[str]:
    """An error record's lines as the console host renders it (NormalView)."""
    number, line = next((n, t) for n, t in enumerate(source.splitlines(), 1) if snippet in t)
    column = line.index(snippet) + 1
    indent = len(line) - len(line.lstrip())
    target_info = f"{target}:String" if target else ":"
    return [
        f"{invocation} : {message}" if invocation else message,
        f"At line:{number} char:{column}",
        f"+ {line.strip()}",
        "+ " + " " * (column - 1 - indent) + "~" * len(snippet),
        f"    + CategoryInfo          : {category}: ({target_info}) [{activity}], {reason}",
        f"    + FullyQualifiedErrorId : {fqid}",
        " ",
    ]


class Console:
    """stdout and stderr as the console host writes them for one process."""

    def __init__(self, encoded: bool) -> None:
        self.clixml = encoded and not sys.stderr.isatty()
        self.errors: list[str] = []

    def frame(self, frame: dict[str, Any]) -> None:
        sys.stdout.buffer.write(json.dumps(frame, separators=(",", ":")).encode("ascii") + b"\r\n")
        sys.stdout.buffer.flush()

    def error(self, lines: list[str]) -> None:
        self.errors.extend(lines)

    def close(self) -> None:
        if not self.errors:
            return
        if self.clixml:
            strings = "".join(
                f'<S S="Error">{escape(line + chr(13) + chr(10))}</S>' for line in self.errors
            )
            document = f'<Objs Version="1.1.0.1" xmlns="{NAMESPACE}">{strings}</Objs>'
            sys.stderr.write(f"#< CLIXML\r\n{document}")
        else:
            sys.stderr.write("\r\n".join(self.errors) + "\r\n")
        sys.stderr.flush()


def not_found(command: str) -> list[str]:
    name = command.split()[0] if command.split() else command
    return render(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file,"
        " or operable program. Check the spelling of the name, or if a path was included,"
        " verify that the path is correct and try again.",
        invocation=name,
        source=command,
        snippet=name,
        category="ObjectNotFound",
        activity="",
        reason="CommandNotFoundException",
        fqid="CommandNotFoundException",
        target=name,
    )


def read_request(line: str, wrapper: str) -> dict[str, Any] | list[str]:
    """The request on one stdin line, or the error the wrapper stops with."""
    try:
        request = json.loads(line)
    except ValueError:
        return render(
            f"Invalid JSON primitive: {line.strip()[:40]}.",
            invocation="ConvertFrom-Json",
            source=wrapper,
            snippet="Microsoft.PowerShell.Utility\\ConvertFrom-Json -InputObject $line",
            category="NotSpecified",
            activity="ConvertFrom-Json",
            reason="ArgumentException",
            fqid="System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
        )
    if not isinstance(request, dict) or "parameters" not in request:
        return render(
            MISSING.format("parameters"),
            invocation="",
            source=wrapper,
            snippet="$request.parameters",
            category="NotSpecified",
            activity="",
            reason="PropertyNotFoundException",
            fqid="PropertyNotFoundStrict",
        )
    return dict(request)


def ask_agent(request: dict[str, Any]) -> dict[str, Any]:
    """Have the test's FakeHost run the script this request carries."""
    message = {
        "pid": os.getpid(),
        "sha256": digest(str(request["script"]).encode("utf-8")),
        "parameters": request["parameters"],
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(os.environ[AGENT_VAR])
        conn.sendall(json.dumps(message).encode("utf-8") + b"\n")
        reply: dict[str, Any] = json.loads(conn.makefile("rb").readline())
    return reply


def run_wrapper(console: Console, wrapper: str) -> int:
    for line in sys.stdin.buffer:
        request = read_request(line.decode("utf-8", "replace"), wrapper)
        if isinstance(request, list):
            console.error(request)
            return 1
        if "script" not in request:  # read inside the wrapper's try: an error frame
            console.frame({"error": MISSING_SCRIPT})
            continue
        reply = ask_agent(request)
        if "drop" in reply:
            os.kill(os.getpid(), signal.SIGKILL)  # gone mid-call, like a power cut
        if "crash" in reply:
            sys.stderr.write(str(reply["crash"]))
            return 70
        console.frame(reply)
    return 0


def main(args: list[str]) -> int:
    command, encoded = parse(args)
    console = Console(encoded)
    wrapper = WRAPPER.read_bytes()
    try:
        if encoded and digest(command.encode("utf-8")) == digest(wrapper):
            return run_wrapper(console, wrapper.decode("utf-8"))
        console.error(not_found(command))
        return 1
    finally:
        console.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
