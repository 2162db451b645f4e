"""Jobs that need no hypervisor, run on this real Windows machine through ``ddperm.local()``.

Run by .github/workflows/windows.yml (windows-2022 and windows-2025 runners, on
powershell.exe and on pwsh) with ``DDPERM_TEST_LOCAL`` naming the executable; elsewhere
every test here is skipped with that reason. They change the machine (hosts file, policy
cache, the docker-users group, ``%ProgramData%\\Docker``): run them on a throwaway VM only.
The links are real NTFS junctions, symbolic links and hard links made with ``os``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import ddperm
from ddperm.components.policy import RegistryPolicy
from ddperm.errors import HostError
from ddperm.host import Host

pytestmark = [
    pytest.mark.real_host,
    pytest.mark.skipif(
        sys.platform != "win32" or not os.environ.get("DDPERM_TEST_LOCAL"),
        reason="needs a throwaway real Windows machine: set DDPERM_TEST_LOCAL=powershell.exe|pwsh",
    ),
]

PROGRAM_DATA = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
HOSTS = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32" / "drivers" / "etc" / "hosts"


@pytest.fixture
def host() -> Iterator[Host]:
    with ddperm.local(os.environ["DDPERM_TEST_LOCAL"]) as this_machine:
        yield this_machine


def _junction(link: Path, target: Path) -> None:
    # os has no junction call; mklink /J is cmd's built-in (no user input reaches it).
    subprocess.run(["cmd", "/c", "mklink", "/J", str(link), str(target)], check=True)


# -- read-only jobs -------------------------------------------------------------------------


def test_version_and_health_answer_in_one_shape(host: Host) -> None:
    version = host.version()
    assert version.host.os_build > 0
    report = host.health()
    assert set(report.checks) >= {"hyperv", "bootloader", "features", "hosts_file"}


def test_checks_answer_without_a_hypervisor(host: Host) -> None:
    assert host.hyperv.status() is not None
    assert host.bootloader.status() is not None
    assert host.features.check() is not None
    assert host.engine.status() is not None


# -- hosts file -----------------------------------------------------------------------------


@pytest.fixture
def saved_hosts() -> Iterator[bytes]:
    original = HOSTS.read_bytes()
    yield original
    HOSTS.write_bytes(original)


def test_hosts_ensure_adds_the_entry_once_and_keeps_the_rest(
    host: Host, saved_hosts: bytes
) -> None:
    host.hosts_file.ensure()
    second = host.hosts_file.ensure()
    assert host.hosts_file.status().ok
    assert not second.changed
    assert saved_hosts.strip() in HOSTS.read_bytes()


# -- policy cache ---------------------------------------------------------------------------


def test_policy_cache_round_trips_with_a_protected_acl(host: Host) -> None:
    policy = RegistryPolicy(
        organization="ddperm-ci",
        allowed_registries=("docker.io", "ghcr.io"),
        fetched_at=datetime.now(timezone.utc),
    )
    cached = host.policy.cache(policy)
    assert host.policy.read().sha256 == cached.sha256
    assert host.policy.status().ok


# -- docker-users ---------------------------------------------------------------------------


def test_docker_users_add_is_idempotent_for_the_current_user(host: Host) -> None:
    subprocess.run(["net", "localgroup", "docker-users", "/add"], check=False)
    me = f"{os.environ['USERDOMAIN']}\\{os.environ['USERNAME']}"
    host.setup.add_docker_user(me)
    again = host.setup.add_docker_user(me)
    assert not again.member_added and not again.group_created
    assert host.setup.docker_users([me]).members[0].member


# -- Windows containers data with real links ------------------------------------------------


@pytest.fixture
def data_root() -> Path:
    root = PROGRAM_DATA / "Docker"
    root.mkdir(exist_ok=True)
    return root


def test_delete_data_removes_links_and_never_what_they_point_to(
    host: Host, data_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary.txt"
    canary.write_text("keep me")
    inside = data_root / "windowsfilter"
    inside.mkdir(exist_ok=True)
    _junction(inside / "junction", outside)
    os.symlink(outside, inside / "dirlink", target_is_directory=True)
    os.symlink(canary, inside / "filelink")
    os.link(canary, inside / "hardlink.txt")
    (inside / "plain.txt").write_text("gone")

    report = host.windows_containers.delete_data(confirm=True)

    assert canary.read_text() == "keep me"
    assert not inside.exists() or not any(inside.iterdir())
    assert len(report.links_removed) >= 3
    assert report.hardlinks_unlinked


def test_delete_data_refuses_a_root_that_is_a_junction(
    host: Host, data_root: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    moved = data_root.with_name("Docker.ddperm-test")
    data_root.rename(moved)
    try:
        _junction(data_root, target)
        with pytest.raises(HostError) as refused:
            host.windows_containers.delete_data(confirm=True)
        assert refused.value.error_id == "DdpermReparsePoint"
        assert (target / "keep.txt").read_text() == "keep"
    finally:
        os.rmdir(data_root)  # removes the junction itself, never its target
        moved.rename(data_root)
