"""fleet.audit: ``health()`` on many hosts at once, one round trip each.

Hosts run on a bounded set of daemon threads. Each gets a deadline: its network
timeouts are capped by it, and a watchdog reports the host as ``timed_out`` once it is
exceeded, so one dead or slow host never holds up the report. Every exception one host
raises is caught and classified as that host's outcome; nothing one host does can stop
the others. Ctrl-C stops at once: hosts not started are not started, running ones are
left to their (daemon) threads, and ``FleetInterrupted`` carries the partial report.

Handed a ``dask.distributed`` Client, the targets are cut into batches and each
batch is audited the same way on a worker.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from tqdm.auto import tqdm

from ddperm.errors import (
    AuthenticationError,
    ConfigurationError,
    DdpermError,
    HostError,
    TransportError,
)
from ddperm.fleet.report import FleetReport, HostResult, Outcome
from ddperm.fleet.targets import Target, load_targets
from ddperm.host import Host
from ddperm.retry import RetryPolicy

if TYPE_CHECKING:
    from distributed import Client

Connector = Callable[[Target, float], Host]
_GRACE = 2.0  # seconds past the deadline before the watchdog gives a host up
_POLL = 0.05
log = logging.getLogger(__name__)


class FleetInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``audit()``: ``.report`` holds the hosts done so far, the rest
    marked ``interrupted``."""

    def __init__(self, report: FleetReport) -> None:
        super().__init__(report.summary())
        self.report = report


def connect_target(target: Target, deadline: float) -> Host:
    """The default connector: PSRP with timeouts and retries inside the deadline."""
    retry = RetryPolicy(attempts=2, deadline=deadline, initial_wait=0.2, max_wait=1.0)
    return target.connect(deadline=deadline, retry=retry)


def check_host(
    target: Target, deadline: float, connector: Connector = connect_target
) -> HostResult:
    """Ask one host for its health; every failure becomes an outcome, never an exception."""
    started = time.monotonic()
    outcome: Outcome
    report = None
    error = None
    try:
        with connector(target, deadline) as host:
            report = host.health()
        outcome = "healthy" if report.healthy else "unhealthy"
    except Exception as exc:
        outcome, error = classify(exc)
        if outcome == "internal_error":
            log.debug("auditing %s failed unexpectedly", target.name, exc_info=exc)
    return _result(target, outcome, time.monotonic() - started, report=report, error=error)


def classify(exc: Exception) -> tuple[Outcome, str]:
    """A host's failure as an outcome and the sentence the report shows."""
    if isinstance(exc, AuthenticationError):
        return "auth_failed", str(exc)
    if isinstance(exc, TransportError):
        return ("timed_out" if _is_timeout(exc) else "unreachable"), str(exc)
    if isinstance(exc, HostError):
        return "host_error", str(exc)
    if isinstance(exc, ConfigurationError):
        return "config_error", str(exc)
    if isinstance(exc, DdpermError):
        return "error", f"{type(exc).__name__}: {exc}"
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return "internal_error", f"{name}: {exc}"


def _is_timeout(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (requests.Timeout, socket.timeout, TimeoutError)):
            return True
        cause = cause.__cause__ or cause.__context__
    return "timed out" in str(exc).lower() or "timeout" in str(exc).lower()


def _result(target: Target, outcome: Outcome, seconds: float, **found: Any) -> HostResult:
    return HostResult(
        name=target.name,
        server=target.server,
        groups=target.groups,
        outcome=outcome,
        seconds=seconds,
        **found,
    )


def audit(
    targets: str | Path | Iterable[str | Mapping[str, Any] | Target],
    *,
    concurrency: int = 16,
    deadline: float = 60.0,
    progress: bool = True,
    client: Client | None = None,
    batch_size: int = 25,
    connector: Connector = connect_target,
) -> FleetReport:
    """Run ``health()`` on every target; see the module docstring.

    ``targets``: a list (``"host[:port]"``, dicts, ``Target``), a CSV path, or an
    Ansible inventory (``InventoryError`` if it cannot be read). ``deadline`` is per
    host, in seconds. ``progress=False`` silences the progress bar. ``client``: a
    ``dask.distributed.Client``. Ctrl-C raises ``FleetInterrupted`` (see there).
    """
    if concurrency < 1 or deadline <= 0 or batch_size < 1:
        raise ConfigurationError("concurrency and batch_size must be >= 1 and deadline > 0")
    chosen = load_targets(targets)
    started = time.monotonic()
    results: list[HostResult] = []
    with tqdm(total=len(chosen), desc="ddperm audit", unit="host", disable=not progress) as bar:

        def done(batch: Iterable[HostResult]) -> None:
            for result in batch:
                results.append(result)
                bar.update(1)

        try:
            if client is None:
                _audit_threads(chosen, concurrency, deadline, connector, done)
            else:
                _audit_dask(client, chosen, (concurrency, deadline, connector), batch_size, done)
        except KeyboardInterrupt as exc:
            answered = {r.name for r in results}
            results.extend(
                _result(t, "interrupted", 0.0, error="stopped by Ctrl-C before it answered")
                for t in chosen
                if t.name not in answered
            )
            raise FleetInterrupted(_report(chosen, results, started)) from exc
    return _report(chosen, results, started)


def _report(chosen: list[Target], results: list[HostResult], started: float) -> FleetReport:
    order = {t.name: i for i, t in enumerate(chosen)}
    ordered = sorted(results, key=lambda r: order[r.name])
    return FleetReport(results=tuple(ordered), seconds=time.monotonic() - started)


def audit_batch(
    targets: Sequence[Target], concurrency: int, deadline: float, connector: Connector
) -> list[HostResult]:
    """One batch on one dask worker (threads there too)."""
    results: list[HostResult] = []
    _audit_threads(targets, concurrency, deadline, connector, results.extend)
    return results


def _audit_threads(
    targets: Sequence[Target],
    concurrency: int,
    deadline: float,
    connector: Connector,
    done: Callable[[Iterable[HostResult]], object],
) -> None:
    """Audit on daemon threads, handing each result to ``done`` as it comes.

    Daemon threads, because a thread stuck in a network call cannot be stopped: it
    must neither hold up the report (the watchdog gives its host up at the deadline)
    nor the interpreter's exit after Ctrl-C.
    """
    todo: queue.SimpleQueue[Target] = queue.SimpleQueue()
    answers: queue.SimpleQueue[HostResult] = queue.SimpleQueue()
    started: dict[str, float] = {}
    stop = threading.Event()
    for target in targets:
        todo.put(target)

    def work() -> None:
        while not stop.is_set():
            try:
                target = todo.get_nowait()
            except queue.Empty:
                return
            started[target.name] = time.monotonic()
            answers.put(check_host(target, deadline, connector))

    def hire() -> None:
        threading.Thread(target=work, name="ddperm-audit", daemon=True).start()

    for _ in range(min(concurrency, len(targets))):
        hire()
    pending = {t.name: t for t in targets}
    try:
        while pending:
            try:
                answer: HostResult | None = answers.get(timeout=_POLL)
            except queue.Empty:
                answer = None
            if answer is not None and answer.name in pending:
                del pending[answer.name]
                done([answer])
            now = time.monotonic()
            for name, began in list(started.items()):
                if name in pending and now - began > deadline + _GRACE:
                    done([_timed_out(pending.pop(name), now - began, deadline)])
                    hire()  # its thread is stuck; keep the concurrency up
    except KeyboardInterrupt:
        stop.set()
        done(_drain(answers, pending))
        raise
    finally:
        stop.set()


def _drain(
    answers: queue.SimpleQueue[HostResult], pending: Mapping[str, Target]
) -> Iterator[HostResult]:
    """Answers that arrived but were not taken yet (hosts done when Ctrl-C came)."""
    while True:
        try:
            answer = answers.get_nowait()
        except queue.Empty:
            return
        if answer.name in pending:
            yield answer


def _timed_out(target: Target, seconds: float, deadline: float) -> HostResult:
    error = f"no answer within the {deadline:g} s deadline"
    return _result(target, "timed_out", seconds, error=error)


def _audit_dask(
    client: Client,
    targets: list[Target],
    settings: tuple[int, float, Connector],
    batch_size: int,
    done: Callable[[Iterable[HostResult]], object],
) -> None:
    """Batches on the cluster's workers; ``connector`` must be picklable (module level)."""
    from distributed import as_completed

    concurrency, deadline, connector = settings
    batches = [targets[i : i + batch_size] for i in range(0, len(targets), batch_size)]
    futures = client.map(
        audit_batch,
        batches,
        concurrency=concurrency,
        deadline=deadline,
        connector=connector,
        pure=False,
    )
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            done(future.result())
    except KeyboardInterrupt:
        client.cancel(futures)  # type: ignore[no-untyped-call]
        raise
