"""Fair admission: no one account can take every connection or flood the service.

Connections are counted per account (uid on POSIX, SID on Windows, as the operating
system reported it). A few slots are kept for administrators, so root or SYSTEM can
always reach a service that members have filled; each non-administrator account may
hold only a few connections; and each account's requests are rate limited with a token
bucket. Administrators are never limited.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from ddperm.service.framing import MAX_REQUEST_BYTES
from ddperm.service.peer import Peer


@dataclass(frozen=True)
class Limits:
    """How much one connection and one account may ask of the service."""

    max_request_bytes: int = MAX_REQUEST_BYTES
    read_timeout: float = 10.0
    """Seconds for the first request of a connection to arrive whole."""
    idle_timeout: float = 30.0
    """Seconds a connection may wait between one answer and the next whole request."""
    max_connection_age: float = 600.0
    """Seconds after which a connection is closed at its next request boundary."""
    max_connections: int = 256
    admin_reserved: int = 16
    """Slots out of ``max_connections`` that only administrators may take."""
    max_per_account: int = 8
    """Connections one non-administrator account may hold at once."""
    requests_per_second: float = 20.0
    request_burst: int = 40

    def __post_init__(self) -> None:
        if not 0 <= self.admin_reserved < self.max_connections:
            raise ValueError("admin_reserved must leave at least one slot for members")
        if self.max_per_account < 1 or self.request_burst < 1 or self.requests_per_second <= 0:
            raise ValueError("per-account limits must allow at least one connection and request")


class TokenBucket:
    """Per-key token buckets: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """Spend one token of ``key``'s bucket; False when it is empty."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            return allowed


class Admission:
    """Counts open connections per account and hands out slots fairly."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._open: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()
        self._requests = TokenBucket(limits.requests_per_second, limits.request_burst)

    def enter(self, peer: Peer) -> str | None:
        """Take a slot for ``peer``'s new connection; the refusal reason when there is none."""
        with self._lock:
            if self._total >= self.limits.max_connections:
                return "busy"
            if not peer.is_admin:
                if self._total >= self.limits.max_connections - self.limits.admin_reserved:
                    return "busy"
                if self._open[peer.user_id] >= self.limits.max_per_account:
                    return "too many connections from this account"
            self._open[peer.user_id] += 1
            self._total += 1
            return None

    def leave(self, peer: Peer) -> None:
        with self._lock:
            self._open[peer.user_id] -= 1
            if self._open[peer.user_id] <= 0:
                del self._open[peer.user_id]
            self._total -= 1

    def may_request(self, peer: Peer) -> bool:
        """Whether ``peer`` may send another request now (administrators always may)."""
        return peer.is_admin or self._requests.take(peer.user_id)
