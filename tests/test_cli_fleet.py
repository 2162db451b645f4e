"""``ddperm health`` and ``ddperm audit`` as a person runs them (a real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, serve

USER, PASSWORD = "fleet-admin", "S3cret-cli-pw"


def _fake(launch_off: bool) -> FakeHost:
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    if launch_off:
        fake.hypervisorlaunchtype = "Off"
    return fake


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, Endpoint]]:
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                serve(_fake(name == "broken"), username=USER, password=PASSWORD)
            )
            for name in ("good", "broken")
        }


def ddperm(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDPERM_")}
    if password is not None:
        env["DDPERM_PASSWORD"] = password
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "ddperm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _health_args(ep: Endpoint) -> list[str]:
    return [
        *("health", ep.host, "--port", str(ep.port), "--http", "--encryption", "never"),
        *("--auth", "basic", "--user", USER),
    ]


def test_health_exit_code_gates_on_problems(endpoints: dict[str, Endpoint]) -> None:
    good = ddperm(*_health_args(endpoints["good"]))
    assert good.returncode == 0, good.stderr
    assert "healthy" in good.stdout
    broken = ddperm(*_health_args(endpoints["broken"]), "--json")
    assert broken.returncode == 1
    result = json.loads(broken.stdout)  # the same HealthReport as host.health()
    assert result["healthy"] is False
    codes = [p["code"] for p in result["bootloader"]["problems"]]
    assert codes == ["HYPERVISOR_LAUNCH_OFF"]


def test_wrong_password_is_reported_and_never_echoed(endpoints: dict[str, Endpoint]) -> None:
    run = ddperm(*_health_args(endpoints["good"]), password="Wrong-pw-123")
    assert run.returncode == 3
    assert run.stderr.startswith("ddperm: error: ")
    assert "rejected the credentials" in run.stderr
    assert "Wrong-pw-123" not in run.stdout + run.stderr


@pytest.fixture
def inventory(tmp_path: Path, endpoints: dict[str, Endpoint]) -> Path:
    lines = ["[devboxes]"]
    for name, ep in endpoints.items():
        lines.append(f"pc-{name} ansible_host={ep.host} ansible_port={ep.port}")
    lines += [
        "[devboxes:vars]",
        "ansible_psrp_protocol=http",
        "ansible_psrp_auth=basic",
        "ansible_psrp_message_encryption=never",
        f"ansible_user={USER}",
    ]
    path = tmp_path / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_audit_prints_a_table_and_exits_nonzero_for_broken_hosts(inventory: Path) -> None:
    run = ddperm("audit", str(inventory), "--quiet")
    assert run.returncode == 1, run.stderr
    assert "pc-good" in run.stdout
    assert "pc-broken" in run.stdout
    assert "2 hosts: 1 healthy, 1 unhealthy" in run.stdout
    assert PASSWORD not in run.stdout + run.stderr


def test_audit_json_and_csv(inventory: Path) -> None:
    as_json = json.loads(ddperm("audit", str(inventory), "--quiet", "--json").stdout)
    outcomes = {r["name"]: r["outcome"] for r in as_json["results"]}
    assert outcomes == {"pc-good": "healthy", "pc-broken": "unhealthy"}
    rows = list(csv.DictReader(io.StringIO(ddperm("audit", str(inventory), "--csv", "-q").stdout)))
    assert {r["host"]: r["bootloader"] for r in rows} == {"pc-good": "ok", "pc-broken": "problem"}


def test_audit_of_a_healthy_fleet_exits_zero(
    tmp_path: Path, endpoints: dict[str, Endpoint]
) -> None:
    ep = endpoints["good"]
    path = tmp_path / "fleet.csv"
    path.write_text(
        "name,host,port,ssl,auth,encryption,username\n"
        f"pc,{ep.host},{ep.port},no,basic,never,{USER}\n"
    )
    run = ddperm("audit", str(path), "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    missing = ddperm("audit", str(tmp_path / "nope.ini"))
    assert missing.returncode == 2
    both = ddperm("audit", str(tmp_path), "--json", "--csv")
    assert both.returncode == 2
