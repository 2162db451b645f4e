"""The local transport: vetted scripts run through powershell.exe (or pwsh) on this machine.

The process boundary, which the stand-in in ``ddperm.testing.standin`` reproduces:

- Command line: ``<exe> -NoProfile -NonInteractive -ExecutionPolicy Bypass
  -EncodedCommand <base64 of the UTF-16LE wrapper>``. The wrapper
  (``local_wrapper.ps1``, pinned below by SHA-256) is fixed text: nothing a caller
  passes is ever part of the command line, and an inline command is not subject to
  an AllSigned policy that blocks ``.ps1`` files. The script text itself travels on
  stdin, as it may not fit the ~32767-character command-line limit.
- stdin: one JSON request per line, ``{"script": text, "parameters": {...}}``. The
  wrapper turns the parameters into a hashtable (5.1's ``ConvertFrom-Json`` has no
  ``-AsHashtable``) and splats them into the script block: values are never spliced
  into code, so quotes, spaces, ``$`` and backticks survive (vagrant #10744, packer #7277).
  Under pwsh 7 the wrapper reads the request with System.Text.Json, as pwsh's
  ``ConvertFrom-Json`` would turn ISO-8601-looking strings into dates (5.1 converts only
  ``\\/Date(n)\\/``, which a Python request never contains).
- stdout: one JSON frame per request, ``{"output": text}`` or ``{"error": {message,
  fully_qualified_error_id, category, target, exception_type}}`` (→ ``HostError``):
  the wrapper catches each script's error record, as powershell.exe itself would only
  render it as text lines on stderr. Any other stdout line (``Write-Host``) is ignored.
- Encoding: UTF-8 both ways, and requests and frames are escaped to ASCII (``\\uXXXX``)
  on both sides, so no console code page can mangle non-ASCII paths or names.
- stderr (CLIXML, see ``clixml.py``) is read only when no frame came back: an error
  record there becomes ``HostError`` (the wrapper itself failed, e.g. constrained
  language mode); with none, the exit code goes into a ``TransportError``, retryable
  for reads and ensure-style writes. Progress records are never failures.
- 32-bit Python on 64-bit Windows: ``powershell.exe`` found in System32 is started through
  ``%SystemRoot%\\Sysnative`` (``native_path``), as WOW64 would otherwise start the 32-bit
  one from SysWOW64, which lacks the LocalAccounts and Hyper-V modules.
- Timeout: the whole process tree is killed (POSIX: own session and ``killpg``;
  Windows: ``taskkill /T /F``) and ``TransportError`` is raised.

By default every call starts one process, which exits when stdin ends after its
request. ``persistent=True`` keeps one process and sends requests line by line, so
N calls do not pay N PowerShell start-ups; calls are serialised, and a process that
died or timed out is replaced on the next call.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ddperm.errors import (
    ConfigurationError,
    DdpermError,
    HostError,
    PolicyError,
    TransportError,
)
from ddperm.host import Host
from ddperm.retry import RetryPolicy
from ddperm.runner import Params
from ddperm.scripts import Script, ScriptRegistry
from ddperm.transports.clixml import decode_stderr, host_error
from ddperm.transports.settings import check_seconds

WRAPPER = Path(__file__).with_name("local_wrapper.ps1")
WRAPPER_SHA256 = "c7b2695ce4c63440dc06e8c90437f66a6d7b87425464e053dee35a49a71c7b69"
_ERROR_FIELDS = ("fully_qualified_error_id", "category", "target", "exception_type")

_SPAWN: dict[str, Any]
if sys.platform == "win32":
    _SPAWN = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
else:
    _SPAWN = {"start_new_session": True}


@functools.lru_cache(maxsize=1)
def wrapper_text() -> str:
    """The wrapper, refused if its bytes differ from the pinned hash."""
    data = WRAPPER.read_bytes()
    if hashlib.sha256(data).hexdigest() != WRAPPER_SHA256:
        raise PolicyError(f"{WRAPPER.name} does not match its pinned SHA-256; refusing")
    return data.decode("utf-8")


def native_path(executable: str, *, environ: Mapping[str, str], pointer_bits: int) -> str:
    """The 64-bit program for ``executable`` when Python is a 32-bit process on 64-bit
    Windows (WOW64 sets ``PROCESSOR_ARCHITEW6432`` for those): there WOW64 redirects
    System32 to SysWOW64, whose 32-bit powershell.exe has neither the LocalAccounts nor the
    Hyper-V module; ``%SystemRoot%\\Sysnative`` reaches the real System32. Anything else, or
    a path outside System32, is returned as it is."""
    upper = {name.upper(): value for name, value in environ.items()}
    if pointer_bits != 32 or not upper.get("PROCESSOR_ARCHITEW6432"):
        return executable
    system_root = upper.get("SYSTEMROOT", r"C:\Windows").rstrip("\\")
    system32 = system_root + "\\System32\\"
    if not executable.lower().startswith(system32.lower()):
        return executable
    return system_root + "\\Sysnative\\" + executable[len(system32) :]


def command_line(executable: str) -> list[str]:
    encoded = base64.b64encode(wrapper_text().encode("utf-16-le")).decode("ascii")
    return [
        executable,
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
        encoded,
    ]


def encode_request(script: Script, params: Params) -> bytes:
    """One request line: ASCII JSON (non-ASCII escaped), the parameters as data."""
    request = {"script": script.text, "parameters": dict(params)}
    return json.dumps(request, separators=(",", ":")).encode("ascii") + b"\n"


def answer(script: str, frame: Mapping[str, Any]) -> str:
    """The script's output from a frame, or the HostError its error record describes."""
    if "error" in frame:
        error = frame["error"]
        raise HostError(
            str(error.get("message") or ""),
            script=script,
            **{field: str(error.get(field) or "") for field in _ERROR_FIELDS},
        )
    return str(frame["output"])


def _as_frame(line: bytes) -> dict[str, Any] | None:
    """The frame on this stdout line; None for anything else the host printed (Write-Host)."""
    try:
        value = json.loads(line.strip().removeprefix(b"\xef\xbb\xbf"))
    except ValueError:
        return None
    if isinstance(value, dict) and len(value) == 1:
        kind, content = next(iter(value.items()))
        if (kind, type(content)) in (("output", str), ("error", dict)):
            return value
    return None


class _Timeout(Exception):
    pass


class _Process:
    """One running PowerShell: stdout lines queued, stderr gathered, both drained by threads."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None) -> None:
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                **_SPAWN,
            )
        except OSError as exc:
            raise TransportError(f"cannot start {argv[0]}: {exc}") from exc
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._stderr = bytearray()
        self._pumps = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump_stdout(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def _pump_stderr(self) -> None:
        assert self.popen.stderr is not None
        fd = self.popen.stderr.fileno()
        while chunk := os.read(fd, 65536):
            self._stderr += chunk

    def send(self, request: bytes, *, last: bool) -> None:
        """Write a request without blocking the caller (a hung process may never read it)."""
        threading.Thread(target=self._write, args=(request, last), daemon=True).start()

    def _write(self, request: bytes, last: bool) -> None:
        assert self.popen.stdin is not None
        with contextlib.suppress(OSError):  # the process is gone; its exit tells why
            self.popen.stdin.write(request)
            self.popen.stdin.flush()
            if last:
                self.popen.stdin.close()

    def frame(self, deadline: float) -> dict[str, Any] | None:
        """The next frame on stdout, or None when stdout ended without one."""
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise _Timeout from None
            if not line:
                return None
            frame = _as_frame(line)
            if frame is not None:
                return frame

    def finish(self, deadline: float) -> tuple[int, str]:
        """Wait for the exit (``_Timeout`` at the deadline); the exit code and stderr."""
        try:
            code = self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise _Timeout from None
        for pump in self._pumps:
            pump.join(timeout=max(0.0, deadline - time.monotonic()))
        self._close_pipes()
        return code, bytes(self._stderr).decode("utf-8", "replace")

    def kill(self) -> None:
        """Kill the process and everything it started."""
        if sys.platform == "win32":
            subprocess.run(
                ["taskkill", "/F", "/T", "/PID", str(self.popen.pid)],
                capture_output=True,
                check=False,
            )
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.popen.kill()
        self.popen.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class LocalRunner:
    """Runs vetted scripts through a local powershell.exe or pwsh (see the module docstring)."""

    def __init__(
        self,
        executable: str = "powershell.exe",
        *,
        persistent: bool = False,
        timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        check_seconds("timeout", timeout)
        if env and not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ConfigurationError("env must map variable names to text values")
        self._env = {**os.environ, **env} if env else None
        found = shutil.which(executable, path=(self._env or os.environ).get("PATH"))
        if found is None:
            raise ConfigurationError(
                f"PowerShell executable {executable!r} was not found (not a path to a program,"
                " nor on PATH); install it or pass the full path"
            )
        self.executable = native_path(
            found, environ=self._env or os.environ, pointer_bits=struct.calcsize("P") * 8
        )
        self.persistent = persistent
        self.timeout = timeout
        self._argv = command_line(self.executable)
        self._lock = threading.Lock()
        self._session: _Process | None = None

    def run(self, script: Script, params: Params) -> str:
        request = encode_request(script, params)
        if not self.persistent:
            return answer(
                script.name, self._exchange(_Process(self._argv, self._env), request, script)
            )
        with self._lock:
            if self._session is None or self._session.popen.poll() is not None:
                self._discard()
                self._session = _Process(self._argv, self._env)
            try:
                frame = self._exchange(self._session, request, script)
            except DdpermError:
                self._discard()
                raise
        return answer(script.name, frame)

    def _exchange(self, process: _Process, request: bytes, script: Script) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        process.send(request, last=not self.persistent)
        try:
            frame = process.frame(deadline)
            if frame is None:
                raise self._failure(script, *process.finish(deadline))
        except _Timeout:
            process.kill()
            raise TransportError(
                f"{script.name}: no answer from {self.executable} within {self.timeout:g} s;"
                " killed its process tree"
            ) from None
        except TransportError:
            process.kill()
            raise
        if not self.persistent:
            try:
                process.finish(deadline)
            except _Timeout:
                process.kill()  # the answer is in; a process that lingers after it is stopped
        return frame

    def _failure(self, script: Script, code: int, stderr: str) -> DdpermError:
        error = host_error(decode_stderr(stderr), script.name)
        if error is not None:
            return error
        return TransportError(
            f"{script.name}: {self.executable} exited with code {code} without an answer"
        )

    def _discard(self) -> None:
        if self._session is not None:
            self._session.kill()
            self._session = None

    def close(self) -> None:
        """Stop the persistent process, if any; the next call starts a new one."""
        with self._lock:
            self._discard()


def local(
    executable: str = "powershell.exe",
    *,
    persistent: bool = False,
    timeout: float = 300.0,
    env: Mapping[str, str] | None = None,
    windows_containers_enabled: bool = True,
    retry: RetryPolicy | None = None,
    registry: ScriptRegistry | None = None,
) -> Host:
    """A ``Host`` for this machine through ``executable`` (``"pwsh"`` for PowerShell 7).

    ``persistent`` keeps one PowerShell process for all calls; ``timeout`` (seconds)
    bounds each call; ``env`` adds environment variables for the process. A missing
    executable or a bad setting raises ``ConfigurationError`` here.
    """
    runner = LocalRunner(executable, persistent=persistent, timeout=timeout, env=env)
    return Host(
        runner,
        windows_containers_enabled=windows_containers_enabled,
        retry=retry,
        registry=registry,
    )
