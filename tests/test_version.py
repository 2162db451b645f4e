from __future__ import annotations

from ddperm.scripts import default_registry
from tests.backends import Backend


def test_version_reports_ddperm_manifest_and_host(backend: Backend) -> None:
    assert backend.fake is not None
    backend.fake.os.build = 19045
    backend.fake.os.powershell_version = "5.1.19041.4648"
    info = backend.host.version()
    assert info.host.os_build == 19045
    assert info.host.powershell_version == "5.1.19041.4648"
    assert info.script_manifest_sha256 == default_registry().manifest_sha256
    assert info.ddperm.count(".") >= 2
