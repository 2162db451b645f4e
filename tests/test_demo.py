"""``ddperm demo`` (what ``make demo`` runs): the tour against the twin and a WinRM host."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from ddperm.testing import FakeHost
from ddperm.testing.winrm import serve


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    env |= {"COLUMNS": "160", "DDPERM_PASSWORD": "Demo-Passw0rd"}
    return subprocess.run(
        [sys.executable, "-m", "ddperm", "demo", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_demo_tour_against_the_twin() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (
        "host.health()  (one round trip)",
        "hypervisorlaunchtype is Off",
        "VM: create DockerDesktopVM",
        "PolicyError: ddperm only manages the VM 'DockerDesktopVM'",
    ):
        assert line in out, line
    assert re.search(r"vm\.state\s+Running", out)
    assert re.search(r"vm\.state\s+Off", out)
    assert "Traceback" not in out + result.stderr


def test_demo_against_a_host_over_winrm_asks_first_then_changes_it() -> None:
    fake = FakeHost()
    with serve(fake, password="Demo-Passw0rd") as ep:
        options = ["--host", ep.host, "--port", str(ep.port), "--http", "--auth", "basic"]
        options += ["--encryption", "never", "--user", ep.username]
        refused = run(*options, stdin="n\n")
        assert refused.returncode == 130  # the person stopped it
        assert fake.vms == []
        accepted = run(*options, "--yes")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert [vm.name for vm in fake.vms] == ["DockerDesktopVM"]
    assert fake.vms[0].state == "Off"  # the tour ends by stopping it
