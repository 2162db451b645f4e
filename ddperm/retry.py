"""One retry policy for every call: transport faults only, never destructive scripts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from ddperm.errors import AuthenticationError, TransportError
from ddperm.scripts import ScriptKind

T = TypeVar("T")


def _is_retryable_fault(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and not isinstance(exc, AuthenticationError)


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff under an overall deadline.

    ``attempts`` counts the first try; ``deadline`` (seconds) bounds the whole
    call including waits. Only ``TransportError`` (not authentication failures)
    is retried, and only for scripts whose kind is retryable.
    """

    attempts: int = 4
    deadline: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 8.0

    def call(self, kind: ScriptKind, fn: Callable[[], T]) -> T:
        if not kind.retryable or self.attempts <= 1:
            return fn()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_retryable_fault),
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.deadline),
            wait=tenacity.wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            reraise=True,
        )
        return retrying(fn)


NO_RETRY = RetryPolicy(attempts=1)
