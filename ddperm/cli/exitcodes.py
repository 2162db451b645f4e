"""The exit codes of every ``ddperm`` command: each one means one thing."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``ddperm`` exit status tells a script or a CI job (``meaning`` says it)."""

    OK = 0
    PROBLEMS = 1
    USAGE = 2
    UNREACHABLE = 3
    HOST_FAILED = 4
    CHANGES_PENDING = 5
    INTERNAL = 70
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "healthy, nothing to change, or success",
    ExitCode.PROBLEMS: "problems found (health, audit, call health)",
    ExitCode.USAGE: "usage error: bad flags, input files or configuration; a refused request",
    ExitCode.UNREACHABLE: "unreachable, authentication failed, or not enough rights",
    ExitCode.HOST_FAILED: "the host reported an error, or a job or step failed",
    ExitCode.CHANGES_PENDING: "changes pending (provision --check; a restart is needed)",
    ExitCode.INTERNAL: "ddperm itself failed (a bug; -v shows the traceback)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C), or a confirmation declined",
}


def table() -> str:
    """The exit codes as lines of ``code  meaning`` (for ``--help``)."""
    return "\n".join(f"{code.value:>3}  {code.meaning}" for code in ExitCode)
