"""Faults a test can plan on the twin endpoint, each for the next N matching requests."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass


class Fault(enum.Enum):
    DROP = "drop"
    """Do the work, then close the connection without answering (a reset mid-receive)."""
    WSMAN_FAULT = "wsman-fault"
    """Answer 500 with a WS-Man fault that means "busy, try again"; nothing is done."""
    UNAVAILABLE = "unavailable"
    """Answer 503 Service Unavailable; nothing is done."""
    STALL = "stall"
    """Say nothing for ``seconds`` (past the client's timeout), then close; nothing is done."""
    REJECT_CREDENTIALS = "reject-credentials"
    """Answer 401 whatever credentials came."""
    SLOW = "slow"
    """Run the script a Command starts only after ``seconds`` (a long-running pipeline);
    a stop signal ends it sooner. Plan it ``on="Command"``."""


@dataclass
class _Planned:
    fault: Fault
    action: str | None
    remaining: int
    seconds: float


class FaultPlan:
    """Thread-safe list of planned faults; ``action`` is a WS-Man action name like "Receive"."""

    def __init__(self) -> None:
        self._planned: list[_Planned] = []
        self._lock = threading.Lock()
        self.injected: list[tuple[Fault, str]] = []

    def inject(
        self, fault: Fault, *, on: str | None = None, times: int = 1, seconds: float = 0.0
    ) -> None:
        """Plan ``fault`` for the next ``times`` requests whose action is ``on`` (any if None)."""
        with self._lock:
            self._planned.append(_Planned(fault, on, times, seconds))

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def take(self, action: str, *, auth_stage: bool = False) -> tuple[Fault, float] | None:
        """The fault to apply to this request, if one is planned (and count it)."""
        with self._lock:
            for planned in self._planned:
                at_auth = planned.fault is Fault.REJECT_CREDENTIALS
                if at_auth != auth_stage or planned.action not in (None, action):
                    continue
                planned.remaining -= 1
                if planned.remaining <= 0:
                    self._planned.remove(planned)
                self.injected.append((planned.fault, action))
                return planned.fault, planned.seconds
        return None
