"""The engine twin against real Windows service output (tests/fixtures/real-windows/services).

The fixtures are stored with LF; real consoles write CRLF, so every file is read back with
CRLF as well. Tables are split on runs of white space, never on fixed columns: on ja-JP the
DisplayName column is truncated by display width, not by characters.
"""

from __future__ import annotations

import re

import pytest

from ddperm.components.engine import EngineStatus, ServiceStartType, ServiceStatus
from ddperm.errors import HostError
from ddperm.testing import FakeHost, FakeService
from tests.backends import Backend
from tests.fixtures import REAL_WINDOWS

FIXTURES = REAL_WINDOWS / "services"

# (fixture, the UI culture of the machine it came from)
GET_SERVICE_TABLES = [
    ("get-service-com-docker-service-running.txt", "en-US"),
    ("get-service-com-docker-service-stopped-padded-it-IT-host.txt", "it-IT"),
    ("get-service-hyperv-and-docker-ja-JP-mixed-displaynames.txt", "ja-JP"),
    ("get-service-star-docker-docker-for-windows-2016.txt", "en-US"),
    ("get-service-star-docker-stopped-padded.txt", "en-US"),
    ("get-service-vmcompute-hns-vmms-table-appsandbox-99.txt", "en-US"),
]
# sc.exe START_TYPE codes (SERVICE_BOOT_START ... SERVICE_DISABLED): numbers are never localised.
SC_START_TYPES = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}


def _read(name: str, *, crlf: bool) -> str:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return text.replace("\n", "\r\n") if crlf else text


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a Format-Table listing, keyed by the header's column names."""
    lines = [line.rstrip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)+", line))
    header = lines[start - 1].split()
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(dict(zip(header, line.split(None, len(header) - 1), strict=True)))
    return rows


def parse_sc_qc(text: str) -> dict[str, str]:
    """``KEY : value`` pairs of ``sc.exe qc`` output."""
    pairs = re.findall(r"^\s*([A-Z_]+)\s*: ?(.*?)\s*$", text, flags=re.MULTILINE)
    return dict(pairs)


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("needs a seedable twin")
    return backend.fake


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize(("fixture", "culture"), GET_SERVICE_TABLES)
def test_every_real_status_and_start_type_is_a_known_name(
    fixture: str, culture: str, crlf: bool
) -> None:
    rows = parse_table(_read(fixture, crlf=crlf))
    assert rows
    for row in rows:
        assert ServiceStatus(row["Status"]).value == row["Status"]
        if "StartType" in row:
            assert ServiceStartType(row["StartType"]).value == row["StartType"]


@pytest.mark.parametrize(("fixture", "culture"), GET_SERVICE_TABLES)
def test_status_mapping_does_not_depend_on_the_ui_language(
    backend: Backend, fixture: str, culture: str
) -> None:
    """Each real row seeded as the engine service comes back as the same enum name and the
    same (possibly localised, possibly truncated) display name, whatever the UI culture."""
    fake = _fake(backend)
    fake.os.ui_culture = culture
    for row in parse_table(_read(fixture, crlf=True)):
        display = row.get("DisplayName", row["Name"])
        fake.services["docker"] = FakeService("docker", display, row["Status"])
        status = backend.host.engine.status()
        assert status.status is ServiceStatus(row["Status"])
        assert status.display_name == display
        assert status.running == (row["Status"] == "Running")


def test_the_engine_seeded_from_sc_qc(backend: Backend) -> None:
    config = parse_sc_qc(_read("sc-qc-docker-engine-ws2019.txt", crlf=True))
    code = int(config["START_TYPE"].split()[0])
    fake = _fake(backend)
    fake.services["docker"] = FakeService(
        config["SERVICE_NAME"], config["DISPLAY_NAME"], "Stopped", SC_START_TYPES[code]
    )
    assert backend.host.engine.status() == EngineStatus(
        installed=True,
        name="docker",
        display_name="Docker Engine",
        status=ServiceStatus.STOPPED,
        start_type=ServiceStartType.AUTOMATIC,
    )
    assert backend.host.engine.start().after.running


def test_the_default_twin_matches_real_machines() -> None:
    """Names, display names, statuses and start types of the default FakeHost's services
    are the ones real Windows reports."""
    fake = FakeHost()
    config = parse_sc_qc(_read("sc-qc-docker-engine-ws2019.txt", crlf=False))
    engine = fake.services[config["SERVICE_NAME"]]
    assert (engine.name, engine.display_name) == (config["SERVICE_NAME"], config["DISPLAY_NAME"])
    desktop = parse_table(_read("get-service-com-docker-service-running.txt", crlf=False))[0]
    assert fake.services[desktop["Name"]].display_name == desktop["DisplayName"]
    for row in parse_table(
        _read("get-service-vmcompute-hns-vmms-table-appsandbox-99.txt", crlf=False)
    ):
        if row["Name"] in fake.services:
            seeded = fake.services[row["Name"]]
            assert (seeded.status, seeded.start_type) == (row["Status"], row["StartType"])


def _console_error(name: str) -> tuple[str, str, str]:
    """(message, category, FullyQualifiedErrorId) of a console error record, unwrapped."""
    text = _read(name, crlf=True)
    head, _, rest = text.partition("    + CategoryInfo")
    message = " ".join(head.split(" : ", 1)[1].split())
    category = rest.split(":", 1)[1].split(":", 1)[0].strip()
    fqid = re.search(r"FullyQualifiedErrorId : (\S+)", rest)
    assert fqid is not None
    return message, category, fqid.group(1)


def test_not_elevated_start_fails_as_start_service_does(backend: Backend) -> None:
    message, category, fqid = _console_error(
        "start-service-com-docker-service-cannot-open-not-elevated.txt"
    )
    expected = message.replace(
        "Docker Desktop Service (com.docker.service)", "Docker Engine (docker)"
    )
    expected = expected.replace("com.docker.service service", "docker service")
    fake = _fake(backend)
    fake.caller.elevated = False
    with pytest.raises(HostError) as caught:
        backend.host.engine.start()
    assert caught.value.message.startswith(expected)
    assert caught.value.category == category
    assert caught.value.error_id == fqid.split(",")[0]
    assert fake.services["docker"].status == "Stopped"


def test_disabled_start_carries_the_win32_1058_reason(backend: Backend) -> None:
    reason = _read("net-start-com-docker-service-error-1058-disabled.txt", crlf=False).split("\n")[
        2
    ]
    assert "disabled" in reason
    fake = _fake(backend)
    fake.services["docker"].start_type = "Disabled"
    with pytest.raises(HostError) as caught:
        backend.host.engine.start()
    assert caught.value.message.endswith(reason)
    assert fake.services["docker"].status == "Stopped"
