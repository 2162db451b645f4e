"""A separate process serving N twin endpoints, so client-side costs are measured alone.

Protocol on stdin/stdout (one JSON document per line): it prints the endpoints'
connect options once ready; each ``stats`` line is answered with per-endpoint call
lists and HTTP request counts; end of input stops it.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack

from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import serve


def _machine(index: int) -> FakeHost:
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    if index % 4 == 3:
        fake.hypervisorlaunchtype = "Off"  # a quarter of the fleet has something to fix
    fake.calls.clear()
    return fake


def main() -> None:
    count = int(sys.argv[1])
    with ExitStack() as stack:
        endpoints = [
            stack.enter_context(serve(_machine(i), password=f"bench-{i}")) for i in range(count)
        ]
        print(json.dumps([ep.connect_options() for ep in endpoints]), flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                stats = [
                    {"calls": [n for n, _ in ep.fake.calls], "http": ep.http_requests}
                    for ep in endpoints
                ]
                print(json.dumps(stats), flush=True)
                for ep in endpoints:
                    ep.fake.calls.clear()


if __name__ == "__main__":
    main()
