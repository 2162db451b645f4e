"""Who may connect, tested with real accounts: root, a docker-users member, and an outsider.

Needs root (creates the docker-users group if missing and two throwaway users, and
removes whatever it created). Each client runs in a forked child that drops to the
user's uid, gid and groups before connecting, as a login of that user would.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddperm.errors import PolicyError
from ddperm.service import ServiceStartError, groups
from ddperm.service.client import Client, ServiceError
from tests.test_service_helpers import Running, serve_twin

GROUP = "docker-users"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: creates the docker-users group and throwaway users"
    ),
]


@dataclass(frozen=True)
class Accounts:
    member: str
    outsider: str


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    suffix = secrets.token_hex(4)
    names = Accounts(member=f"ddpm{suffix}", outsider=f"ddpo{suffix}")
    created_group = False
    created: list[str] = []
    try:
        try:
            grp.getgrnam(GROUP)
        except KeyError:
            _run("groupadd", GROUP)
            created_group = True
        for name in (names.member, names.outsider):
            _run("useradd", "--no-create-home", "--no-user-group", "-s", "/usr/sbin/nologin", name)
            created.append(name)
        groups.add_member(names.member, GROUP)
        yield names
    finally:
        for name in created:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        if created_group:
            subprocess.run(["groupdel", GROUP], check=False, capture_output=True)


@pytest.fixture
def svc(accounts: Accounts) -> Iterator[Running]:
    # Not under pytest's tmp_path: that is 0700 root, and the users must reach the socket.
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        with serve_twin(base, group=GROUP) as running:
            yield running


def as_user(
    user: str, action: Callable[[], Any], *, without_group: int | None = None
) -> dict[str, Any]:
    """Run ``action`` in a forked child with ``user``'s uid, gid and groups; its outcome."""
    entry = pwd.getpwnam(user)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            held = os.getgrouplist(user, entry.pw_gid)
            os.setgroups([g for g in held if g != without_group])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            try:
                outcome = {"result": action()}
            except Exception as exc:
                cause = exc.__cause__
                outcome = {
                    "error": type(exc).__name__,
                    "code": getattr(exc, "code", None),
                    "cause": type(cause).__name__ if cause else None,
                    "message": str(exc),
                }
            os.write(write_end, json.dumps(outcome, default=str).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def version_via(path: str) -> Callable[[], Any]:
    def ask() -> Any:
        with Client(path, timeout=30) as client:
            return client.request("version")["ddperm"]

    return ask


def test_the_socket_belongs_to_root_and_docker_users_with_mode_0660(svc: Running) -> None:
    info = os.lstat(svc.path)
    assert stat.S_ISSOCK(info.st_mode)
    assert (info.st_uid, info.st_gid) == (0, grp.getgrnam(GROUP).gr_gid)
    assert stat.S_IMODE(info.st_mode) == 0o660


def test_a_member_is_served_and_audited_as_the_kernel_saw_them(
    svc: Running, accounts: Accounts
) -> None:
    outcome = as_user(accounts.member, version_via(svc.path))
    assert "result" in outcome, outcome
    record = svc.audit()[-1]
    assert record["peer"]["user"] == accounts.member
    assert record["peer"]["user_id"] == str(pwd.getpwnam(accounts.member).pw_uid)
    assert GROUP in record["peer"]["groups"]
    assert str(grp.getgrnam(GROUP).gr_gid) in record["peer"]["group_ids"]
    assert record["peer"]["is_admin"] is False


def test_root_is_served(svc: Running) -> None:
    with Client(svc.path) as client:
        assert client.request("version")["ddperm"]
    assert svc.audit()[-1]["peer"]["is_admin"] is True


def test_an_outsider_is_refused_at_connect_by_the_socket_mode(
    svc: Running, accounts: Accounts
) -> None:
    outcome = as_user(accounts.outsider, version_via(svc.path))
    assert outcome["error"] == "TransportError"
    assert outcome["cause"] == "PermissionError"
    assert svc.fake.calls == []


def test_an_outsider_is_refused_in_code_even_if_the_socket_mode_were_wrong(
    svc: Running, accounts: Accounts
) -> None:
    """Defence in depth: the peer-credential check alone keeps the outsider out."""
    os.chmod(svc.path, 0o666)

    def ask_twice() -> list[str]:
        codes = []
        with Client(svc.path, timeout=30) as client:
            for _ in range(2):  # the client reconnects after the refusal closed the connection
                try:
                    client.request("version")
                except ServiceError as exc:
                    codes.append(exc.code)
        return codes

    outcome = as_user(accounts.outsider, ask_twice)
    assert outcome["result"] == ["forbidden", "forbidden"]
    assert svc.fake.calls == []
    refusal = svc.audit("connection_refused")[0]
    assert refusal["peer"]["user"] == accounts.outsider
    assert GROUP not in refusal["peer"]["groups"]


def test_a_member_whose_process_dropped_the_group_is_refused(
    svc: Running, accounts: Accounts
) -> None:
    """Membership is what the connecting process holds, not what the group database says."""
    os.chmod(svc.path, 0o666)
    docker_users = grp.getgrnam(GROUP).gr_gid
    outcome = as_user(accounts.member, version_via(svc.path), without_group=docker_users)
    assert outcome["code"] == "forbidden"
    assert svc.fake.calls == []


def test_a_socket_directory_owned_by_a_user_is_refused(accounts: Accounts) -> None:
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        run = base / "run"
        run.mkdir(mode=0o755)
        os.chown(run, pwd.getpwnam(accounts.member).pw_uid, 0)
        with pytest.raises(ServiceStartError, match="owned by uid"), serve_twin(base, group=GROUP):
            pass
        assert list(run.iterdir()) == []


# -- group administration ---------------------------------------------------------------------


def test_group_members_are_listed_and_changed_by_root(accounts: Accounts) -> None:
    assert accounts.member in groups.members(GROUP).members
    assert accounts.outsider not in groups.members(GROUP).members
    assert accounts.outsider in groups.add_member(accounts.outsider, GROUP).members
    assert accounts.outsider in grp.getgrnam(GROUP).gr_mem
    assert accounts.outsider not in groups.remove_member(accounts.outsider, GROUP).members
    assert accounts.outsider not in grp.getgrnam(GROUP).gr_mem


def test_a_non_admin_cannot_change_the_group(accounts: Accounts) -> None:
    outcome = as_user(accounts.member, lambda: groups.add_member(accounts.outsider, GROUP))
    assert outcome["error"] == "PolicyError"
    assert "only an administrator" in outcome["message"]
    assert accounts.outsider not in grp.getgrnam(GROUP).gr_mem


@pytest.mark.parametrize("name", ["", "-r", "a b", "root;id", "x\n", "../etc", "a" * 40, "ü"])
def test_bad_user_names_are_refused_before_anything_runs(name: str) -> None:
    before = grp.getgrnam(GROUP).gr_mem
    with pytest.raises(PolicyError, match="not a valid user name"):
        groups.add_member(name, GROUP)
    assert grp.getgrnam(GROUP).gr_mem == before


def test_an_unknown_user_is_refused(accounts: Accounts) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        groups.add_member(f"{accounts.member}x", GROUP)


def test_a_member_cannot_replace_the_registry_policy(svc: Running, accounts: Accounts) -> None:
    policy = {
        "organization": "acme",
        "allowed_registries": [],
        "fetched_at": "2026-11-01T08:00:00Z",
    }

    def cache() -> Any:
        with Client(svc.path, timeout=30) as client:
            return client.request("policy.cache", {"policy": policy})

    outcome = as_user(accounts.member, cache)
    assert outcome["code"] == "forbidden"
    assert svc.fake.calls == []


def test_the_group_command_lists_and_refuses(accounts: Accounts) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "ddperm", "group", "list", "--group", GROUP],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0
    assert accounts.member in listed.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "ddperm", "group", "add", "bad;name", "--group", GROUP],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "not a valid user name" in refused.stderr
