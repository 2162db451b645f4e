"""Get one Windows machine ready for Docker Desktop's Hyper-V backend, with ddperm.

    python examples/prepare_machine.py                      # against the built-in twin
    python examples/prepare_machine.py --host pc01 --user CORP\\admin   # a real machine
                                                            # (password: DDPERM_PASSWORD)

It checks health in one round trip, puts kubernetes.docker.internal in the hosts
file, creates and starts DockerDesktopVM if needed, and reports the disk. Exit code
0 when the machine is ready, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

import ddperm
from ddperm.components.vm import VMSpec
from ddperm.testing import twin_host


def prepare(host: ddperm.Host, spec: VMSpec) -> bool:
    """The tool's job, written only against ddperm's public API."""
    report = host.health()
    blocking = [p for p in report.problems if p.code != "HOSTS_ENTRY_MISSING"]
    for problem in report.problems:
        print(f"health: [{problem.code}] {problem.message}")
    if blocking:
        print("not ready: fix the problems above first")
        return False
    change = host.hosts_file.ensure()
    print(f"hosts entry: {'written' if change.changed else 'already in place'}")
    vm = host.vm.info() or host.vm.create(spec)
    started = host.vm.start()
    print(f"{vm.name}: {started.vm.state.value} ({'started' if started.changed else 'unchanged'})")
    disk = host.vhd.size()
    print(f"disk: {disk.virtual_size // 2**30} GiB virtual, {disk.file_size // 2**20} MiB on disk")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="a real machine over WinRM (default: the twin)")
    parser.add_argument("--user", help="account on it (or DDPERM_USERNAME)")
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        spec = VMSpec(cpus=args.cpus)
    except ValidationError as exc:
        parser.error(f"--cpus: {exc.errors()[0]['msg']}")
    host = ddperm.connect(args.host, username=args.user) if args.host else twin_host()
    try:
        with host:
            ready = prepare(host, spec)
    except ddperm.DdpermError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if ready else 1


if __name__ == "__main__":
    raise SystemExit(main())
