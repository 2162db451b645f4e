"""The twin against real Windows output (tests/fixtures/real-windows/get-vm, get-vhd).

Error records, state names and Get-VHD's numbers captured on real machines are parsed
here and compared with what the twin answers through ``backend.host``.
"""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from ddperm.components.vm import DEFAULT_DATA_FOLDER, VMInfo, VMSpec, VMState
from ddperm.errors import HostError
from ddperm.testing import FakeHost, FakeVHD
from ddperm.testing.jobs.hyperv import seed_docker_vm
from tests.backends import Backend
from tests.fixtures import REAL_WINDOWS

FIXTURES = REAL_WINDOWS
GET_VM = FIXTURES / "get-vm"
GET_VHD = FIXTURES / "get-vhd"
DISK = DEFAULT_DATA_FOLDER + r"\DockerDesktop.vhdx"


def _fake(backend: Backend) -> FakeHost:
    if backend.fake is None:
        pytest.skip("seeds host state: runs on the twin only")
    return backend.fake


def _error_records(text: str) -> list[dict[str, str]]:
    """Console-rendered error records: message, category, exception type, FQID."""
    records = []
    for block in re.split(r"\n\s*\n", text.strip()):
        head, _, rest = block.partition("\nAt line:")
        if not rest:
            head, _, rest = block.partition("\nEn l")
        message = " ".join(line.strip() for line in head.split("\n"))
        category = re.search(r"CategoryInfo\s*: (\w+): .*\], (\w+)", rest)
        fqid = re.search(r"FullyQualifiedErrorId : (\S+)", rest)
        records.append(
            {
                "message": message.split(" : ", 1)[1],
                "category": category[1] if category else "",
                "exception": category[2] if category else "",
                "fqid": fqid[1] if fqid else "",
            }
        )
    return records


def _format_list(text: str) -> list[dict[str, str]]:
    """Format-List records (``Name : value``), split on blank lines."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z]+)\s+:\s?(.*)$", line)
        if match:
            current[match[1]] = match[2].strip()
        elif not line.strip() and current:
            records.append(current)
            current = {}
    if current:
        records.append(current)
    return [r for r in records if "VhdType" in r]


# -- Get-VM errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    ["error-notfound-en-minikube-16667.stderr.txt", "error-notfound-en-psautolab-133.txt"],
)
def test_not_found_matches_real_get_vm(backend: Backend, fixture: str) -> None:
    _fake(backend)  # assumes a machine without the VM
    real = _error_records((GET_VM / fixture).read_text())[0]
    name = re.search(r'name "([^"]+)"', real["message"])
    assert name is not None
    with pytest.raises(HostError) as info:
        backend.host.vm.start()
    assert info.value.fully_qualified_error_id == real["fqid"]
    assert info.value.category == real["category"]
    assert info.value.exception_type.rsplit(".", 1)[1] == real["exception"]
    assert info.value.message == real["message"].replace(name[1], "DockerDesktopVM")


def test_spanish_not_found_text_matches_real_get_vm(backend: Backend) -> None:
    text = (GET_VM / "error-notfound-es-minikube-8512.partial.txt").read_text()
    real = text.split("\n", 1)[0].split(" : ", 1)[1]
    _fake(backend).os.ui_culture = "es-MX"
    with pytest.raises(HostError) as info:
        backend.host.vm.stop()
    assert info.value.message == real.replace("minikube", "DockerDesktopVM")
    assert "InvalidPa" in text  # the capture is cut there; the id starts the same
    assert info.value.fully_qualified_error_id.startswith("InvalidPa")


def test_no_permission_matches_real_get_vm(backend: Backend) -> None:
    fixture = GET_VM / "error-objectnotfound-then-notfound-en-minikube-16679.stderr.txt"
    real = _error_records(fixture.read_text())[0]
    fake = _fake(backend)
    seed_docker_vm(fake)
    fake.os.computer_name = "CXWINLT103"
    fake.caller.elevated = False
    with pytest.raises(HostError) as info:
        backend.host.vm.info()
    assert info.value.fully_qualified_error_id == real["fqid"]
    assert info.value.category == real["category"]
    assert info.value.message == real["message"]


# -- states ------------------------------------------------------------------------------


def _table_states() -> list[str]:
    states = set()
    for fixture in GET_VM.glob("table-*.txt"):
        for line in fixture.read_text().splitlines():
            match = re.match(r"^\s*\S+\s+(Running|Off|Saved|Paused|Starting|Stopping)\s", line)
            if match:
                states.add(match[1])
    return sorted(states)


def test_real_tables_show_states_by_name() -> None:
    assert _table_states() == ["Off", "Running"]


@pytest.mark.parametrize("state", _table_states() if GET_VM.is_dir() else [])
def test_the_twin_reports_real_state_names(backend: Backend, state: str) -> None:
    seed_docker_vm(_fake(backend), state=state)
    info = backend.host.vm.info()
    assert info is not None
    assert info.state is VMState(state)


def test_numeric_states_from_plain_convertto_json_are_rejected() -> None:
    """Real PS 5.1 JSON has State 3 (Off): the scripts must emit [string]$vm.State."""
    real = json.loads((GET_VM / "json-select-vmname-state-number-open-ebackup.json").read_text())
    assert real["State"] == 3
    document = {
        "name": "DockerDesktopVM",
        "vm_id": real["VMId"],
        "state": real["State"],
        "generation": real["Generation"],
        "processor_count": 2,
        "memory_startup_bytes": 2**31,
        "vhd_path": None,
    }
    with pytest.raises(ValidationError):
        VMInfo.model_validate(document)
    assert VMInfo.model_validate({**document, "state": "Off"}).state is VMState.OFF


# -- Get-VHD numbers -------------------------------------------------------------------

VHD_RECORDS = (
    [
        (fixture.name, i, record)
        for fixture in sorted(GET_VHD.glob("fl-*.txt"))
        for i, record in enumerate(_format_list(fixture.read_text()))
    ]
    if GET_VHD.is_dir()
    else []
)


def _optional(value: str) -> int | None:
    return int(value) if value else None


@pytest.mark.parametrize(
    ("fixture", "index", "real"), VHD_RECORDS, ids=[f"{f}-{i}" for f, i, _ in VHD_RECORDS]
)
def test_size_maps_get_vhd_fields_like_real_output(
    backend: Backend, fixture: str, index: int, real: dict[str, str]
) -> None:
    fake = _fake(backend)
    seed_docker_vm(fake, state="Running" if real["Attached"] == "True" else "Off")
    fake.fs.file_data(DISK).size = int(real["FileSize"])
    fake.vhds[DISK.lower()] = FakeVHD(
        DISK,
        int(real["Size"]),
        format=real["VhdFormat"],
        type=real["VhdType"],
        minimum_size=_optional(real["MinimumSize"]),
        logical_sector_size=int(real["LogicalSectorSize"]),
        physical_sector_size=int(real["PhysicalSectorSize"]),
        block_size=int(real["BlockSize"]),
        attached=real["Attached"] == "True",
    )
    size = backend.host.vhd.size()
    assert (size.format, size.type) == (real["VhdFormat"], real["VhdType"])
    assert size.virtual_size == int(real["Size"])
    assert size.file_size == int(real["FileSize"])
    assert size.minimum_size == _optional(real["MinimumSize"])
    assert size.block_size == int(real["BlockSize"])
    assert (size.logical_sector_size, size.physical_sector_size) == (
        int(real["LogicalSectorSize"]),
        int(real["PhysicalSectorSize"]),
    )
    assert size.attached is (real["Attached"] == "True")
    if real["VhdType"] == "Fixed" and real["VhdFormat"] == "VHD":
        assert size.file_size - size.virtual_size == 512  # the VHD footer
        assert size.block_size == 0


def test_a_new_dynamic_vhdx_looks_like_real_new_vhd_output(backend: Backend) -> None:
    """New-VHD -Dynamic of 100 GB (real capture): 4 MiB on disk, MinimumSize empty."""
    _fake(backend)  # creates the VM
    real = _format_list((GET_VHD / "fl-vhdx-dynamic-new-vhd-ru-lab.txt").read_text())[0]
    backend.host.vm.create(VMSpec(disk_size_bytes=int(real["Size"])))
    size = backend.host.vhd.size()
    assert (size.format, size.type) == (real["VhdFormat"], real["VhdType"])
    assert (size.virtual_size, size.file_size) == (int(real["Size"]), int(real["FileSize"]))
    assert size.minimum_size is None
    assert real["MinimumSize"] == ""
    assert size.block_size == int(real["BlockSize"])
    assert (size.logical_sector_size, size.physical_sector_size) == (
        int(real["LogicalSectorSize"]),
        int(real["PhysicalSectorSize"]),
    )
    assert size.attached is False
