"""What a shell has to say, kept per target until a Receive collects it.

A target is the shell itself ("") or one of its commands (an upper-case GUID). A
Receive waits (long-polls) until its target has something to say, is done, or the
operation timeout passes, as WinRM does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ddperm.testing.winrm import soap
from ddperm.testing.winrm.soap import WSManFault


@dataclass
class Received:
    """One Receive's answer: (stream name, bytes) chunks, whether the target is done."""

    chunks: list[tuple[str, bytes]]
    done: bool
    exit_code: int | None = None


@dataclass
class _Target:
    queue: list[tuple[str, bytes]] = field(default_factory=list)
    breaks: int = 0
    """How many queued chunks the next Receive may take at most (0: no limit)."""
    done: bool = False
    delivered: bool = False  # the Done answer was collected: Receive no longer knows it
    exit_code: int | None = None


class ShellClosed(Exception):
    """The shell was deleted (or killed) before the request reached it."""


class Outbox:
    """Thread-safe per-target queues with a long-polling ``take``."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        """Held while changing anything; notified after every change."""
        self._targets: dict[str, _Target] = {"": _Target()}
        self.closed = False

    def open(self, target: str) -> None:
        with self.changed:
            self._targets[target] = _Target()

    def knows(self, target: str) -> bool:
        with self.changed:
            return target in self._targets

    def put(self, target: str, stream: str, data: bytes) -> None:
        with self.changed:
            if target in self._targets:
                self._targets[target].queue.append((stream, data))
                self.changed.notify_all()

    def end_answer(self, target: str) -> None:
        """Let the next Receive for ``target`` take only what is queued now; later chunks go
        in a later answer."""
        with self.changed:
            state = self._targets.get(target)
            if state is not None and state.queue and not state.breaks:
                state.breaks = len(state.queue)

    def finish(self, target: str, exit_code: int | None = None) -> None:
        with self.changed:
            if target in self._targets:
                self._targets[target].done = True
                self._targets[target].exit_code = exit_code
                self.changed.notify_all()

    def forget(self, target: str) -> None:
        """Drop a target and whatever it had left to say (a waiting Receive is aborted)."""
        with self.changed:
            self._targets.pop(target, None)
            self.changed.notify_all()

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def take(self, target: str, limit: int, wait: float) -> Received | None:
        """Up to ``limit`` bytes for ``target``; None when nothing came within ``wait``."""
        with self.changed:
            if self.closed:
                raise ShellClosed
            state = self._targets.get(target)
            if state is None or state.delivered:
                raise WSManFault(soap.COMMAND_NOT_FOUND)
            self.changed.wait_for(
                lambda: (
                    self.closed
                    or self._targets.get(target) is not state
                    or bool(state.queue)
                    or state.done
                ),
                timeout=wait,
            )
            if self.closed or self._targets.get(target) is not state:
                raise WSManFault(soap.ABORTED)
            taken: list[tuple[str, bytes]] = []
            size = 0
            most = state.breaks or len(state.queue)
            while state.queue and len(taken) < most:
                if taken and size + len(state.queue[0][1]) > limit:
                    break
                taken.append(state.queue.pop(0))
                size += len(taken[-1][1])
            state.breaks = max(0, state.breaks - len(taken))
            done = state.done and not state.queue
            if not taken and not done:
                return None
            state.delivered = done
            return Received(taken, done, state.exit_code if done else None)
