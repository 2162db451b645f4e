"""ddperm's client against a second, independent WS-Man/PSRP server (tests/independent_wsman):
what passes here does not hang on a quirk of ddperm's own twin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ddperm
from ddperm.errors import HostError
from ddperm.testing import FakeHost, twin_host
from tests.independent_wsman import Independent, serve


@pytest.fixture
def endpoint() -> Iterator[Independent]:
    with serve(FakeHost()) as served:
        yield served


def test_version_over_the_independent_server(endpoint: Independent) -> None:
    with ddperm.connect(**endpoint.connect_options()) as host:
        version = host.version()
        assert len(endpoint.service.shells) == 1
    assert version.host.os_build == endpoint.service.fake.os.build
    assert version.script_manifest_sha256 == twin_host(FakeHost()).version().script_manifest_sha256
    assert [name for name, _ in endpoint.service.fake.calls] == ["version"]
    assert endpoint.service.shells == {}  # closing the Host deleted the shell


def test_an_error_record_round_trips_as_the_same_host_error(endpoint: Independent) -> None:
    with pytest.raises(HostError) as in_process:
        twin_host(FakeHost()).vm.start()
    with pytest.raises(HostError) as remote, ddperm.connect(**endpoint.connect_options()) as host:
        host.vm.start()  # no VM: Get-VM's ObjectNotFound, on the error stream here
    fields = ("fully_qualified_error_id", "category", "target", "exception_type", "script")
    assert {f: getattr(remote.value, f) for f in fields} == {
        f: getattr(in_process.value, f) for f in fields
    }
    assert str(remote.value) == str(in_process.value)
    assert remote.value.fully_qualified_error_id.startswith("InvalidParameter,")
