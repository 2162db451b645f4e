"""One retry policy for every call: transport faults only, never destructive scripts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from ddperm.errors import TransportError
from ddperm.scripts import ScriptKind

T = TypeVar("T")
log = logging.getLogger(__name__)


def _is_retryable_fault(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and exc.retryable


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff under an overall deadline.

    ``attempts`` counts the first try; ``deadline`` (seconds) bounds the whole
    call including waits. Only ``TransportError`` whose ``retryable`` is true (not
    authentication or TLS failures) is retried, and only for scripts whose kind is
    retryable. Each retry is logged at WARNING with its reason.
    """

    attempts: int = 4
    deadline: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 8.0

    def call(
        self, kind: ScriptKind, fn: Callable[[], T], *, context: Mapping[str, object] | None = None
    ) -> T:
        """``fn()``, retried per the policy; ``context`` (host, script) goes into the log."""
        if not kind.retryable or self.attempts <= 1:
            return fn()
        fields = dict(context or {})

        def warn(state: tenacity.RetryCallState) -> None:
            reason = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying %s on %s in %.1f s after attempt %d of %d failed: %s",
                fields.get("script", "a script"),
                fields.get("host", "the host"),
                state.upcoming_sleep,
                state.attempt_number,
                self.attempts,
                reason,
                extra={**fields, "attempt": state.attempt_number, "reason": str(reason)},
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_retryable_fault),
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.deadline),
            wait=tenacity.wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            before_sleep=warn,
            reraise=True,
        )
        return retrying(fn)


NO_RETRY = RetryPolicy(attempts=1)
