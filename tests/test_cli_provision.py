"""``ddperm provision`` end to end over WinRM against a fresh twin machine."""

from __future__ import annotations

import os
import subprocess
import sys

from ddperm.testing.winrm import Endpoint, serve
from tests.test_provision import WRITES, fresh_machine

USER, PASSWORD = "provisioner", "Pr0vision-pw"


def ddperm(endpoint: Endpoint, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    env |= {"DDPERM_PASSWORD": PASSWORD, "COLUMNS": "200"}
    connection = ["--port", str(endpoint.port), "--http", "--encryption", "never"]
    connection += ["--auth", "basic", "--user", USER, "--quiet"]
    return subprocess.run(
        [sys.executable, "-m", "ddperm", "provision", endpoint.host, *connection, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_check_apply_reboot_and_a_second_check() -> None:
    fake = fresh_machine()
    with serve(fake, username=USER, password=PASSWORD) as endpoint:
        check = ddperm(endpoint, "--check", "--docker-user", "alice", "--vm", "--cpus", "4")
        assert check.returncode == 5, check.stderr  # changes pending
        assert "features" in check.stdout
        assert "restart" in check.stdout
        assert not [n for n, _ in fake.calls if n in WRITES]

        no_reboot = ddperm(endpoint, "--apply", "--docker-user", "alice", "--vm")
        assert no_reboot.returncode == 5  # still pending: the restart
        assert "must restart" in no_reboot.stdout
        assert fake.features["Microsoft-Hyper-V"] == "EnablePending"

        full = ddperm(endpoint, "--apply", "--allow-reboot", "--docker-user", "alice", "--vm")
        assert full.returncode == 0, full.stdout + full.stderr
        assert fake.features["Microsoft-Hyper-V"] == "Enabled"
        assert [vm.name for vm in fake.vms] == ["DockerDesktopVM"]

        again = ddperm(endpoint, "--check", "--docker-user", "alice", "--vm")
        assert again.returncode == 0
        assert "already in the desired state" in again.stdout


def test_not_elevated_is_one_clear_line() -> None:
    fake = fresh_machine()
    fake.caller.elevated = False
    with serve(fake, username=USER, password=PASSWORD) as endpoint:
        run = ddperm(endpoint, "--apply")
    assert run.returncode == 3  # not enough rights
    assert run.stderr.startswith("ddperm: error: provisioning requires elevation")
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert not [n for n, _ in fake.calls if n in WRITES]


def test_check_and_apply_are_exclusive_and_bad_users_refused() -> None:
    with serve(fresh_machine(), username=USER, password=PASSWORD) as endpoint:
        assert ddperm(endpoint).returncode == 2
        assert ddperm(endpoint, "--check", "--apply").returncode == 2
        bad = ddperm(endpoint, "--check", "--docker-user", "*")
        assert bad.returncode == 2
        assert "docker-users member" in bad.stdout + bad.stderr
