"""fleet.audit: ``health()`` on many hosts at once, one round trip each.

Hosts run on a bounded thread pool. Each gets a deadline: its network timeouts are
capped by it, and a watchdog reports the host as ``timed_out`` once it is exceeded,
so one dead or slow host never holds up the report. Every failure is caught and
classified per host; nothing one host does can stop the others.

Handed a ``dask.distributed`` Client, the targets are cut into batches and each
batch is audited the same way on a worker.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from tqdm.auto import tqdm

from ddperm.errors import AuthenticationError, DdpermError, HostError, TransportError
from ddperm.fleet.report import FleetReport, HostResult, Outcome
from ddperm.fleet.targets import Target, load_targets
from ddperm.host import Host
from ddperm.retry import RetryPolicy

if TYPE_CHECKING:
    from distributed import Client

Connector = Callable[[Target, float], Host]
_GRACE = 2.0  # seconds past the deadline before the watchdog gives a host up
_POLL = 0.05


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
    except AuthenticationError as exc:
        outcome, error = "auth_failed", str(exc)
    except TransportError as exc:
        outcome, error = ("timed_out" if _is_timeout(exc) else "unreachable"), str(exc)
    except HostError as exc:
        outcome, error = "host_error", str(exc)
    except (DdpermError, ValueError, OSError) as exc:
        outcome, error = "error", f"{type(exc).__name__}: {exc}"
    return HostResult(
        name=target.name,
        server=target.server,
        groups=target.groups,
        outcome=outcome,
        report=report,
        error=error,
        seconds=time.monotonic() - started,
    )


def _is_timeout(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (requests.Timeout, socket.timeout, TimeoutError)):
            return True
        cause = cause.__cause__ or cause.__context__
    return "timed out" in str(exc).lower() or "timeout" in str(exc).lower()


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
    Ansible inventory. ``deadline`` is per host, in seconds. ``progress=False``
    silences the progress bar. ``client``: a ``dask.distributed.Client``.
    """
    if concurrency < 1 or deadline <= 0 or batch_size < 1:
        raise ValueError("concurrency and batch_size must be >= 1 and deadline > 0")
    chosen = load_targets(targets)
    started = time.monotonic()
    with tqdm(total=len(chosen), desc="ddperm audit", unit="host", disable=not progress) as bar:
        if client is None:
            results = list(_audit_threads(chosen, concurrency, deadline, connector, bar.update))
        else:
            results = _audit_dask(
                client, chosen, (concurrency, deadline, connector), batch_size, bar.update
            )
    order = {t.name: i for i, t in enumerate(chosen)}
    results.sort(key=lambda r: order[r.name])
    return FleetReport(results=tuple(results), seconds=time.monotonic() - started)


def audit_batch(
    targets: Sequence[Target], concurrency: int, deadline: float, connector: Connector
) -> list[HostResult]:
    """One batch on one dask worker (threads there too)."""
    return list(_audit_threads(targets, concurrency, deadline, connector, lambda _n: None))


def _audit_threads(
    targets: Sequence[Target],
    concurrency: int,
    deadline: float,
    connector: Connector,
    advance: Callable[[int], object],
) -> Iterator[HostResult]:
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ddperm-audit")
    started: dict[str, float] = {}

    def run(target: Target) -> HostResult:
        started[target.name] = time.monotonic()
        return check_host(target, deadline, connector)

    pending: dict[Future[HostResult], Target] = {pool.submit(run, t): t for t in targets}
    try:
        while pending:
            now = time.monotonic()
            for future, target in list(pending.items()):
                began = started.get(target.name)
                if future.done():
                    result = future.result()
                elif began is not None and now - began > deadline + _GRACE:
                    result = _timed_out(target, now - began, deadline)
                else:
                    continue
                del pending[future]
                advance(1)
                yield result
            if pending:
                time.sleep(_POLL)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a stuck host's thread is left behind


def _timed_out(target: Target, seconds: float, deadline: float) -> HostResult:
    return HostResult(
        name=target.name,
        server=target.server,
        groups=target.groups,
        outcome="timed_out",
        error=f"no answer within the {deadline:g} s deadline",
        seconds=seconds,
    )


def _audit_dask(
    client: Client,
    targets: list[Target],
    settings: tuple[int, float, Connector],
    batch_size: int,
    advance: Callable[[int], object],
) -> list[HostResult]:
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
    results: list[HostResult] = []
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        batch = future.result()
        results.extend(batch)
        advance(len(batch))
    return results
