"""fleet.audit against twin endpoints served over WinRM (the real pypsrp client)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ddperm.fleet import (
    FleetReport,
    InventoryError,
    Target,
    audit,
    from_ansible,
    from_csv,
    load_targets,
)
from ddperm.fleet.report import CHECKS
from ddperm.fleet.targets import parse_address
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.winrm import Endpoint, Fault, serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _target(name: str, endpoint: Endpoint, **changes: Any) -> Target:
    options = endpoint.connect_options()
    options.update(changes)
    return Target(name=name, **options)


def _healthy() -> FakeHost:
    """A machine with nothing to fix (a fresh twin still lacks the hosts entry)."""
    fake = FakeHost()
    twin_host(fake).hosts_file.ensure()
    fake.calls.clear()
    return fake


def _hyperv_off() -> FakeHost:
    fake = _healthy()
    fake.features["Microsoft-Hyper-V"] = "Disabled"
    fake.features["Microsoft-Hyper-V-Hypervisor"] = "Disabled"
    fake.hypervisor_present = False
    return fake


def _launch_off() -> FakeHost:
    fake = _healthy()
    fake.hypervisorlaunchtype = "Off"
    return fake


@pytest.fixture(scope="module")
def fleet() -> Iterator[dict[str, Endpoint]]:
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(serve(fake, password=f"pw-{name}"))
            for name, fake in {
                "healthy": _healthy(),
                "no-hosts-entry": FakeHost(),
                "hyperv-off": _hyperv_off(),
                "launch-off": _launch_off(),
            }.items()
        }


@pytest.fixture(scope="module")
def mixed_targets(fleet: dict[str, Endpoint]) -> list[Target]:
    unreachable = Target(
        name="gone",
        server="127.0.0.1",
        port=_free_port(),
        ssl=False,
        auth="basic",
        username="x",
        password="y",
        encryption="never",
    )
    return [
        *(_target(name, ep) for name, ep in fleet.items()),
        _target("wrong-password", fleet["healthy"], password="not-it"),
        unreachable,
    ]


@pytest.fixture(scope="module")
def report(mixed_targets: list[Target]) -> FleetReport:
    return audit(mixed_targets, concurrency=4, deadline=20, progress=False)


def test_each_host_gets_its_own_outcome(report: FleetReport, mixed_targets: list[Target]) -> None:
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {
        "healthy": "healthy",
        "hyperv-off": "unhealthy",
        "launch-off": "unhealthy",
        "no-hosts-entry": "unhealthy",
        "wrong-password": "auth_failed",
        "gone": "unreachable",
    }
    assert [r.name for r in report.results] == [t.name for t in mixed_targets]  # input order
    assert not report.ok


def test_reports_and_summaries_name_the_failing_checks(report: FleetReport) -> None:
    by_name = {r.name: r for r in report.results}
    assert "bootloader" in by_name["launch-off"].failing_checks
    assert "hyperv" in by_name["hyperv-off"].failing_checks
    assert by_name["healthy"].report is not None and by_name["healthy"].report.healthy
    assert by_name["gone"].report is None and by_name["gone"].error
    assert "hosts_file" in by_name["no-hosts-entry"].failing_checks
    assert report.outcomes()["unhealthy"] == 3
    assert report.failing_checks()["bootloader"] >= 1
    assert "6 hosts" in report.summary()


def test_one_round_trip_per_host(fleet: dict[str, Endpoint]) -> None:
    fake = _healthy()
    with serve(fake, password="pw-count") as endpoint:
        audit([_target("one", endpoint)], progress=False)
    assert [name for name, _ in fake.calls] == ["health"]


def test_a_stalled_host_times_out_without_holding_up_the_rest(
    fleet: dict[str, Endpoint],
) -> None:
    with serve(_healthy(), password="pw-slow") as slow:
        slow.faults.inject(Fault.STALL, seconds=30, times=50)
        result = audit(
            [_target("slow", slow), _target("healthy", fleet["healthy"])],
            concurrency=2,
            deadline=2,
            progress=False,
        )
    outcomes = {r.name: r.outcome for r in result.results}
    assert outcomes == {"slow": "timed_out", "healthy": "healthy"}
    slow_result = next(r for r in result.results if r.name == "slow")
    assert slow_result.seconds < 30  # given up at the deadline, not when the stall ended


def test_json_round_trip_and_no_secrets(report: FleetReport) -> None:
    text = report.to_json()
    assert FleetReport.model_validate_json(text) == report
    for secret in ("pw-healthy", "pw-hyperv-off", "not-it"):
        assert secret not in text and secret not in repr(report)
    assert json.loads(text)["results"][0]["name"] == "healthy"


def test_dataframe_html_and_chart(report: FleetReport) -> None:
    frame = report.to_dataframe()
    assert list(frame.index) == [r.name for r in report.results]
    assert frame.loc["launch-off", "bootloader"] == "problem"
    assert frame.loc["gone", "outcome"] == "unreachable"
    html = report._repr_html_()
    assert html.count("<tr>") == len(report.results) + 1
    assert "wrong-password" in html and "auth_failed" in html
    heat = report.plot().axes[1]
    hosts = [t.get_text() for t in heat.get_yticklabels()]
    assert "gone (unreachable)" in hosts and "wrong-password (auth_failed)" in hosts
    grid = heat.images[0].get_array().tolist()
    launch_off = grid[[r.name for r in report.results].index("launch-off")]
    assert launch_off[CHECKS.index("bootloader")] == 1  # problem (ok, problem, error, not asked)


def test_progress_bar_shows_unless_silenced(
    fleet: dict[str, Endpoint], capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [_target("healthy", fleet["healthy"])]
    audit(targets, progress=False)
    assert "ddperm audit" not in capsys.readouterr().err
    audit(targets, progress=True)
    assert "ddperm audit" in capsys.readouterr().err


def test_targets_from_csv(tmp_path: Path, fleet: dict[str, Endpoint]) -> None:
    ep = fleet["launch-off"]
    path = tmp_path / "fleet.csv"
    path.write_text(
        "name,host,port,ssl,auth,username,password,encryption,groups\n"
        f"pc1,{ep.host},{ep.port},no,basic,{ep.username},{ep.password},never,dev;eu\n",
        encoding="utf-8",
    )
    (target,) = load_targets(path)
    assert (target.server, target.port, target.ssl, target.groups) == (
        ep.host,
        ep.port,
        False,
        ("dev", "eu"),
    )
    result = audit(path, progress=False)
    assert result.results[0].outcome == "unhealthy"
    assert from_csv(path) == [target]


def test_targets_from_ansible_inventory_with_group_vars(
    tmp_path: Path, fleet: dict[str, Endpoint]
) -> None:
    ok, off = fleet["healthy"], fleet["hyperv-off"]
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "hosts.ini").write_text(
        "[devboxes]\n"
        f"pc-ok ansible_host={ok.host} ansible_port={ok.port}\n"
        f"pc-off ansible_host={off.host} ansible_port={off.port}\n"
        "[devboxes:vars]\nansible_connection=psrp\nansible_psrp_protocol=http\n"
        "ansible_psrp_auth=basic\nansible_psrp_message_encryption=never\n"
    )
    (tmp_path / "group_vars" / "devboxes.yml").write_text(
        f"ansible_user: {ok.username}\nvault_pw: {ok.password}\n"
        'ansible_password: "{{ vault_pw }}"\n'
    )
    (tmp_path / "host_vars" / "pc-off.yml").write_text(f"ansible_password: {off.password}\n")
    targets = from_ansible(tmp_path / "hosts.ini")
    assert [t.name for t in targets] == ["pc-ok", "pc-off"]
    assert all(t.groups == ("devboxes",) and not t.ssl for t in targets)
    result = audit(tmp_path / "hosts.ini", progress=False)
    assert {r.name: r.outcome for r in result.results} == {
        "pc-ok": "healthy",
        "pc-off": "unhealthy",
    }


def test_yaml_inventory_and_https_variables(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(
        "all:\n  children:\n    win:\n      hosts:\n        box1:\n"
        "          ansible_host: 10.1.2.3\n          ansible_psrp_cert_validation: ignore\n"
        "        box2:\n          ansible_port: 5985\n"
        "      vars:\n        ansible_user: admin\n        ansible_psrp_auth: ntlm\n"
    )
    box1, box2 = from_ansible(path)
    assert (box1.server, box1.ssl, box1.cert_validation, box1.auth) == (
        "10.1.2.3",
        True,
        False,
        "ntlm",
    )
    assert (box2.server, box2.port, box2.ssl) == ("box2", 5985, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pc", ("pc", None)),
        ("pc:5985", ("pc", 5985)),
        ("[::1]:5986", ("::1", 5986)),
        ("fe80::1", ("fe80::1", None)),
    ],
)
def test_address_parsing(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("bad", ["", ":5985", "pc:http", "[::1]:x"])
def test_bad_addresses_and_duplicates_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        load_targets([bad])


def test_duplicate_names_and_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="two targets"):
        load_targets(["pc1", "pc1"])
    with pytest.raises(ValueError):
        audit(["pc1"], concurrency=0, progress=False)
    with pytest.raises(InventoryError, match=r"no inventory at /no/such/inventory\.ini"):
        audit("/no/such/inventory.ini", progress=False)
