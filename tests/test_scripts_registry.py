"""The SHA-256 pin: a script that differs from the manifest never runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ddperm.errors import PolicyError
from ddperm.host import Host
from ddperm.scripts import ScriptRegistry, build_manifest, manifest_text, script_root
from ddperm.testing import FakeHost, TwinRunner


@pytest.fixture
def scripts_copy(tmp_path: Path) -> Path:
    root = tmp_path / "ps_scripts"
    shutil.copytree(script_root(), root)
    return root


def test_manifest_is_current() -> None:
    root = script_root()
    assert (root / "manifest.json").read_text() == manifest_text(build_manifest(root)), (
        "ps_scripts/manifest.json is stale: run `make manifest`"
    )


def test_every_script_loads_and_includes_resolve() -> None:
    registry = ScriptRegistry()
    assert registry.names()
    for name in registry.names():
        script = registry.get(name)
        assert not re.search(r"^# ddperm:include ", script.text, re.MULTILINE)
        assert script.sources[0] == f"{name}.ps1"


def test_tampered_script_is_refused_before_running(scripts_copy: Path) -> None:
    target = scripts_copy / "version.ps1"
    target.write_text(target.read_text() + "\nRemove-Item C:\\ -Recurse\n")
    fake = FakeHost()
    host = Host(TwinRunner(fake), registry=ScriptRegistry(scripts_copy))
    with pytest.raises(PolicyError, match="pinned SHA-256"):
        host.version()
    assert fake.calls == []


def test_tampered_library_is_refused(scripts_copy: Path) -> None:
    lib = scripts_copy / "lib" / "Common.ps1"
    lib.write_bytes(lib.read_bytes().replace(b"-Depth 8", b"-Depth 1"))
    with pytest.raises(PolicyError, match=r"lib/Common\.ps1"):
        ScriptRegistry(scripts_copy).get("version")


def test_unknown_and_malformed_names_are_refused() -> None:
    registry = ScriptRegistry()
    with pytest.raises(PolicyError):
        registry.get("no_such_script")
    with pytest.raises(PolicyError):
        registry.get("../version")


def test_twin_refuses_text_that_is_not_a_vetted_script(scripts_copy: Path) -> None:
    target = scripts_copy / "version.ps1"
    target.write_text(target.read_text() + "\n# harmless edit\n")
    (scripts_copy / "manifest.json").write_text(manifest_text(build_manifest(scripts_copy)))
    edited = ScriptRegistry(scripts_copy)
    fake = FakeHost()
    host = Host(TwinRunner(fake), registry=edited)  # twin knows only the shipped scripts
    with pytest.raises(PolicyError, match="vetted"):
        host.version()
    assert fake.calls == []
