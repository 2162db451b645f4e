"""fleet.audit against N twin endpoints on loopback, beside a raw-pypsrp floor.

For each N (default 50, 200, 500) in one run: wall time and hosts/s of
``ddperm.fleet.audit`` and of a floor made of plain pypsrp (one runspace pool and
one health pipeline per host, same script, same parameters, same concurrency);
their ratio; round trips (script runs) and HTTP requests per host; and the client's
memory per open host connection. The endpoints live in a separate process
(benchmarks/twin_farm.py) so the numbers are the client's own.

Run: ``make bench ARGS="fleet --sizes 50,200,500 --concurrency 32"``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from ddperm.fleet import Target, audit
from ddperm.host import Host
from ddperm.runner import Params
from ddperm.scripts import Script


class Farm:
    """N twin endpoints in a child process."""

    def __init__(self, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.twin_farm", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._in, self._out = self.process.stdin, self.process.stdout
        self.options: list[dict[str, Any]] = json.loads(self._out.readline())

    def stats(self) -> list[dict[str, Any]]:
        self._in.write("stats\n")
        self._in.flush()
        result: list[dict[str, Any]] = json.loads(self._out.readline())
        return result

    def close(self) -> None:
        self._in.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Sent(Exception):
    """Raised by the recorder to stop a call once it has seen what would be sent."""


class _Recorder:
    """A runner that records the script and parameters ddperm sends, then stops."""

    def run(self, script: Script, params: Params) -> str:
        raise _Sent(script, dict(params))

    def close(self) -> None:
        """Nothing to close."""


def health_request() -> tuple[Script, dict[str, Any]]:
    """Exactly the script and parameters ``host.health()`` sends."""
    try:
        Host(_Recorder()).health()
    except _Sent as sent:
        return sent.args[0], sent.args[1]
    raise AssertionError("health() sent nothing")


def raw_health(options: dict[str, Any]) -> str:
    """The floor: what any PSRP client must do to run health.ps1 on one host."""
    script, params = HEALTH
    wsman = WSMan(
        options["server"],
        port=options["port"],
        ssl=False,
        auth=options["auth"],
        username=options["username"],
        password=options["password"],
        encryption=options.get("encryption", "auto"),
    )
    with wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(script.text)
        for name, value in params.items():
            ps.add_parameter(name, value)
        output = ps.invoke()
        if ps.had_errors:
            raise RuntimeError(f"health failed on the twin: {ps.streams.error[:1]}")
    return str(output[0])


HEALTH = health_request()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def memory_per_connection(targets: list[Target]) -> float:
    """KiB of Python memory held per Host with an open runspace pool (all open at once)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        hosts = [t.connect() for t in targets]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda h: h.version(), hosts))
        held = tracemalloc.get_traced_memory()[0] - before
        for host in hosts:
            host.close()
    finally:
        tracemalloc.stop()
    return held / 1024 / len(targets)


def run_size(count: int, concurrency: int, repeats: int) -> dict[str, float]:
    farm = Farm(count)
    try:
        targets = [Target(name=f"pc{i:04d}", **o) for i, o in enumerate(farm.options)]
        ddperm_times, floor_times = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine
            floor_times.append(
                timed(lambda: list(ThreadPoolExecutor(concurrency).map(raw_health, farm.options)))
            )
            before = farm.stats()
            report = audit(targets, concurrency=concurrency, deadline=300, progress=False)
            ddperm_times.append(report.seconds)
            after = farm.stats()
            assert all(r.outcome in ("healthy", "unhealthy") for r in report.results)
        round_trips = statistics.mean(len(s["calls"]) for s in after)
        http = statistics.mean(a["http"] - b["http"] for a, b in zip(after, before, strict=True))
        memory = memory_per_connection(targets[: min(count, 200)])
    finally:
        farm.close()
    ddperm_s, floor_s = statistics.median(ddperm_times), statistics.median(floor_times)
    return {
        "hosts": count,
        "ddperm_s": ddperm_s,
        "floor_s": floor_s,
        "ratio": ddperm_s / floor_s,
        "hosts_per_s": count / ddperm_s,
        "round_trips": round_trips,
        "http_per_host": http,
        "kib_per_conn": memory,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fleet")
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    header = (
        "| hosts | ddperm s | raw pypsrp s | ratio | hosts/s | script runs/host "
        "| HTTP req/host | client KiB/open conn | s per host |"
    )
    print(header)
    print("|---" * 9 + "|", flush=True)
    for size in args.sizes.split(","):
        r = run_size(int(size), args.concurrency, args.repeats)
        print(
            f"| {r['hosts']:.0f} | {r['ddperm_s']:.2f} | {r['floor_s']:.2f} | {r['ratio']:.2f} "
            f"| {r['hosts_per_s']:.1f} | {r['round_trips']:.2f} | {r['http_per_host']:.1f} "
            f"| {r['kib_per_conn']:.0f} | {r['ddperm_s'] / r['hosts']:.4f} |",
            flush=True,
        )
    print(f"\nconcurrency {args.concurrency}, {args.repeats} interleaved repeats, medians")
    return 0
