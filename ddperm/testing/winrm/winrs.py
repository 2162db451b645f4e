"""The WinRS cmd shell (resource URI .../windows/shell/cmd), without running programs.

The twin serves PowerShell remoting only: every command a cmd shell is given ends at
once with a fixed message on stderr and exit code 1. Ids, streams, Receive, Send and
Signal behave as WinRM's do, so pywinrm and pypsrp's WinRS get a clear answer.
"""

from __future__ import annotations

from ddperm.testing.winrm import soap
from ddperm.testing.winrm.outbox import Outbox, Received
from ddperm.testing.winrm.soap import WSManFault

NOT_SUPPORTED = (
    b"ddperm twin: this endpoint runs no programs; it serves PowerShell remoting only.\r\n"
)
EXIT_CODE = 1
_SIGNALS = tuple(
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/" + name
    for name in ("terminate", "ctrl_c", "ctrl_break")
)


class CommandShell:
    """A cmd shell whose commands write NOT_SUPPORTED to stderr and exit with EXIT_CODE."""

    def __init__(self, shell_id: str) -> None:
        self.shell_id = shell_id
        self.outbox = Outbox()

    def new_command(self, command_id: str) -> None:
        self.outbox.open(command_id)
        self.outbox.put(command_id, "stderr", NOT_SUPPORTED)
        self.outbox.finish(command_id, EXIT_CODE)

    def feed(self, data: bytes, command_id: str = "", *, delay: float = 0.0) -> None:
        """stdin for a command: accepted and ignored, as by a program that reads none."""
        if not self.outbox.knows(command_id):
            raise WSManFault(soap.COMMAND_NOT_FOUND)

    def receive(self, command_id: str, limit: int, wait: float) -> Received | None:
        return self.outbox.take(command_id, limit, wait)

    def signal(self, command_id: str, code: str) -> None:
        if not self.outbox.knows(command_id):
            raise WSManFault(soap.COMMAND_NOT_FOUND)
        if code.lower() not in _SIGNALS:
            raise WSManFault(soap.INVALID_REQUEST)
        if code.lower() == _SIGNALS[0]:
            self.outbox.forget(command_id)

    def close(self) -> None:
        self.outbox.close()
