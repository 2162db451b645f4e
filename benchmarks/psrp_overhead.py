"""ddperm's PSRP path against the twin served over WinRM on 127.0.0.1, in one run.

- warm call latency of ``host.version()`` beside the same script through raw pypsrp
  (one pool, one pipeline per call, same requests), measured in alternating rounds;
- runspace-pool opens per 100 operations on one host (goal: 1);
- HTTP requests per warm operation;
- ``host.health()`` round trips (pipelines run) and time beside running each of its
  checks as its own script.

The endpoint runs in this process (its counters are read directly); both sides share
it and the loopback, so the ratios compare like with like.

Run: ``.venv/bin/python -m benchmarks psrp [--calls 200] [--auth basic|ntlm]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

import ddperm
from ddperm.host import Host
from ddperm.scripts import default_registry
from ddperm.testing import FakeHost
from ddperm.testing.winrm import Endpoint, serve
from ddperm.transports.psrp import PSRPRunner


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _raw_call(pool: RunspacePool, text: str) -> object:
    ps = PowerShell(pool)
    ps.add_script(text)
    output = ps.invoke()
    ps.close()
    return json.loads(output[0])


def _each_check(host: Host) -> None:
    host.hyperv.status()
    host.bootloader.status()
    host.features.check()
    host.vm.info()
    host.engine.status()
    host.hosts_file.status()


def _delta(endpoint: Endpoint, fn: Callable[[], object], times: int = 1) -> dict[str, float]:
    """WS-Man requests by action and HTTP requests per run of ``fn``."""
    before, http = dict(endpoint.service.requests), endpoint.http_requests
    for _ in range(times):
        fn()
    after = endpoint.service.requests
    counts = {k: (after[k] - before.get(k, 0)) / times for k in after}
    counts["http"] = (endpoint.http_requests - http) / times
    return counts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks psrp")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per side")
    parser.add_argument("--auth", choices=("basic", "ntlm"), default="basic")
    args = parser.parse_args(argv)
    text = default_registry().get("version").text

    with serve(FakeHost(), auth=args.auth) as endpoint:
        options = endpoint.connect_options()
        server = options.pop("server")
        with ddperm.connect(server, **options) as host:
            wsman = WSMan(server, **options)
            with wsman, RunspacePool(wsman) as pool:
                for _ in range(10):  # warm both: pools open, connections up
                    host.version()
                    _raw_call(pool, text)
                ours: list[float] = []
                raw: list[float] = []
                for i in range(args.calls):
                    pair = [(ours, host.version), (raw, lambda: _raw_call(pool, text))]
                    for samples, fn in pair if i % 2 else reversed(pair):
                        samples.append(_timed(fn))
            warm = _delta(endpoint, host.version, times=100)
            health = _delta(endpoint, host.health)
            separate = _delta(endpoint, lambda: _each_check(host))
            health_ms = statistics.median(_timed(host.health) for _ in range(30))
            separate_ms = statistics.median(_timed(lambda: _each_check(host)) for _ in range(30))

        runner = PSRPRunner(server, **options)
        with Host(runner) as fresh:
            opens = _delta(endpoint, fresh.version, times=100)
        pool_opens = runner.pool_opens

    med_ours, med_raw = statistics.median(ours), statistics.median(raw)
    p90 = lambda xs: statistics.quantiles(xs, n=10)[-1]  # noqa: E731
    rows = [
        ("auth", args.auth, ""),
        ("warm call, ddperm host.version() (median ms)", f"{med_ours:.2f}", f"p90 {p90(ours):.2f}"),
        ("warm call, raw pypsrp same script (median ms)", f"{med_raw:.2f}", f"p90 {p90(raw):.2f}"),
        ("ddperm / raw pypsrp latency ratio", f"{med_ours / med_raw:.3f}", "goal: close to 1"),
        ("runspace-pool opens per 100 operations", f"{pool_opens}", "goal: 1"),
        ("  (WS-Man Create requests per 100 ops)", f"{opens.get('Create', 0) * 100:.0f}", ""),
        ("HTTP requests per warm operation", f"{warm['http']:.2f}", "Command+Receive+Signal"),
        ("host.health() round trips (pipelines)", f"{health.get('Command', 0):.0f}", "goal: 1"),
        ("each check separately: round trips", f"{separate.get('Command', 0):.0f}", ""),
        ("host.health() (median ms)", f"{health_ms:.2f}", ""),
        ("each check separately (median ms)", f"{separate_ms:.2f}", ""),
        ("health / separate time ratio", f"{health_ms / separate_ms:.3f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}} | {'value':>8} | note")
    print(f"{'-' * width}-|-{'-' * 8}-|-----")
    for name, value, note in rows:
        print(f"{name:<{width}} | {value:>8} | {note}")
    return 0
