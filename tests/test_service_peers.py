"""Who may connect, tested with real accounts: root, a docker-users member, and an outsider.

Needs root (creates the docker-users group if missing and two throwaway users, and
removes whatever it created). Each client runs in a forked child that drops to the
user's uid, gid and groups before connecting, as a login of that user would.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddperm.errors import PolicyError, TransportError
from ddperm.service import Limits, ServiceStartError, groups
from ddperm.service.client import Client, ServiceError
from ddperm.service.framing import FrameError, encode_frame, read_frame
from ddperm.service.unix_socket import SocketStream
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
    return finish(start_as_user(user, action, without_group=without_group))


def start_as_user(
    user: str, action: Callable[[], Any], *, without_group: int | None = None
) -> tuple[int, int]:
    """Fork a child that runs ``action`` as ``user``; ``finish`` collects its outcome."""
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
    return pid, read_end


def finish(child: tuple[int, int]) -> dict[str, Any]:
    pid, read_end = child
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
    assert refused.returncode == 2  # usage: refused before anything ran
    assert "not a valid user name" in refused.stderr


# -- paths and squatters (issue 11, findings 4 and 5) ------------------------------------------


def test_a_socket_path_through_another_users_link_is_refused(accounts: Accounts) -> None:
    """A link the member owns could be re-pointed after the check: the path as given counts."""
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        real = base / "real"
        real.mkdir(mode=0o755)
        shared = base / "shared"
        shared.mkdir()
        shared.chmod(0o1777)  # sticky and world-writable, like /tmp
        link = shared / "run"
        link.symlink_to(real)
        os.lchown(link, pwd.getpwnam(accounts.member).pw_uid, -1)
        with (
            pytest.raises(ServiceStartError, match="link by uid"),
            serve_twin(base, group=GROUP, socket_path=link / "ddperm.sock"),
        ):
            pass
        assert list(real.iterdir()) == []


def test_a_link_root_owns_on_the_way_is_fine(accounts: Accounts) -> None:
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        (base / "real").mkdir(mode=0o755)
        (base / "run").symlink_to(base / "real")
        with serve_twin(base, group=GROUP, socket_path=base / "run" / "ddperm.sock") as svc:
            assert as_user(accounts.member, version_via(svc.path))["result"]
        assert list((base / "real").iterdir()) == []  # its own socket removed on stop


def test_stopping_removes_only_the_socket_the_service_made(accounts: Accounts) -> None:
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        with serve_twin(base, group=GROUP) as svc:
            os.unlink(svc.path)
            Path(svc.path).write_text("someone else's file")  # replaced while serving
        assert Path(svc.path).read_text() == "someone else's file"


def test_the_client_refuses_a_socket_another_user_serves(accounts: Accounts) -> None:
    """A squatter (a member's process listening where the service should be) hears nothing."""
    with tempfile.TemporaryDirectory(prefix="ddperm-squat-") as directory:
        folder = Path(directory)
        folder.chmod(0o755)
        os.chown(folder, pwd.getpwnam(accounts.member).pw_uid, -1)
        path = folder / "ddperm.sock"

        def squat() -> int:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(path))
            os.chmod(path, 0o666)
            listener.listen(1)
            listener.settimeout(30)
            conn, _ = listener.accept()
            conn.settimeout(5)
            received = b""
            with contextlib.suppress(OSError):
                while chunk := conn.recv(65536):
                    received += chunk
            return len(received)

        squatter = start_as_user(accounts.member, squat)
        for _ in range(300):
            if path.exists():
                break
            time.sleep(0.01)
        with pytest.raises(TransportError, match="not root"), Client(str(path)) as client:
            client.request("version")
        assert finish(squatter) == {"result": 0}  # not one byte of the request reached it


# -- one member against everyone (issue 11, finding 1) -----------------------------------------


@pytest.fixture(scope="module")
def honest(accounts: Accounts) -> Iterator[list[str]]:
    """Four more docker-users members, for the load test."""
    names = [f"ddph{i}{secrets.token_hex(3)}" for i in range(4)]
    try:
        for name in names:
            _run("useradd", "--no-create-home", "--no-user-group", "-s", "/usr/sbin/nologin", name)
            groups.add_member(name, GROUP)
        yield names
    finally:
        for name in names:
            subprocess.run(["userdel", name], check=False, capture_output=True)


def _clients(path: str, count: int, requests: int) -> Callable[[], dict[str, int]]:
    """``count`` connections at once, each asking ``requests`` versions; outcomes counted."""

    def run() -> dict[str, int]:
        outcomes: dict[str, int] = {}
        lock = threading.Lock()
        start = threading.Barrier(count)

        def one() -> None:
            start.wait()
            with Client(path, timeout=60) as client:
                for _ in range(requests):
                    try:
                        client.request("version")
                        key = "ok"
                    except ServiceError as exc:
                        key = exc.code
                    except Exception as exc:
                        key = type(exc).__name__
                    with lock:
                        outcomes[key] = outcomes.get(key, 0) + 1

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    return run


def _hog(path: str, seconds: float) -> Callable[[], dict[str, int]]:
    """Hold every connection the service allows and flood requests on each."""

    def run() -> dict[str, int]:
        outcomes: dict[str, int] = {"held": 0}
        held: list[socket.socket] = []
        for _ in range(64):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            held.append(sock)
        frame = encode_frame(json.dumps({"route": "version"}).encode())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for sock in list(held):
                try:
                    sock.settimeout(5)
                    sock.sendall(frame)
                    answer = read_frame(SocketStream(sock, 5), limit=2**24, timeout=5)
                except (OSError, FrameError):
                    answer = None
                if answer is None:
                    held.remove(sock)
                    sock.close()
                    continue
                document = json.loads(answer)
                key = "ok" if document["ok"] else document["error"]["code"]
                outcomes[key] = outcomes.get(key, 0) + 1
        outcomes["held"] = len(held)
        for sock in held:
            sock.close()
        return outcomes

    return run


def test_100_honest_clients_and_root_are_served_while_one_member_hogs_and_floods(
    accounts: Accounts, honest: list[str]
) -> None:
    limits = Limits(max_per_account=25, admin_reserved=16, request_burst=80)
    cap = {"max_bytes": 64 * 1024, "backups": 1}
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        with serve_twin(base, group=GROUP, limits=limits, audit_options=cap) as svc:
            hog = start_as_user(accounts.member, _hog(svc.path, seconds=6))
            time.sleep(1.5)  # the hog holds its connections and floods
            crowd = [start_as_user(name, _clients(svc.path, 20, 3)) for name in honest]
            with Client(svc.path, timeout=60) as root_client:
                root_answers = [root_client.request("version")["ddperm"] for _ in range(20)]
            honest_outcomes = [finish(child)["result"] for child in crowd]
            hog_outcome = finish(hog)["result"]
        logs = sorted(base.glob("audit.jsonl*"))
        lines = [json.loads(line) for f in logs for line in f.read_text().splitlines()]
        log_bytes = sum(f.stat().st_size for f in logs)
    assert all(outcome == {"ok": 60} for outcome in honest_outcomes), honest_outcomes
    assert len(root_answers) == 20
    assert hog_outcome["held"] <= 25  # its share, never the whole service
    assert hog_outcome.get("rate_limited", 0) > 0, hog_outcome
    assert log_bytes <= 2 * 64 * 1024 + 4096
    assert any(line["event"] == "suppressed" for line in lines)


# -- killed mid-flight -------------------------------------------------------------------------


def test_a_killed_service_restarts_with_a_well_formed_audit_log(accounts: Accounts) -> None:
    with tempfile.TemporaryDirectory(prefix="ddperm-svc-") as directory:
        base = Path(directory)
        base.chmod(0o755)
        socket_path, audit_path = base / "run" / "ddperm.sock", base / "logs" / "audit.jsonl"
        command = [
            sys.executable, "-m", "ddperm", "serve", "--address", str(socket_path),
            "--group", GROUP, "--audit-log", str(audit_path),
        ]  # fmt: skip

        def start() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
            for _ in range(500):  # a stale socket of the killed one may be there: ask
                with contextlib.suppress(TransportError), Client(str(socket_path)) as probe:
                    probe.request("version")
                    return process
                time.sleep(0.02)
            process.kill()
            raise AssertionError("the service did not start")

        first = start()
        stop = threading.Event()

        def flood() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception), Client(str(socket_path), timeout=5) as c:
                    while not stop.is_set():
                        c.request("health")

        flooder = threading.Thread(target=flood)
        flooder.start()
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)  # in the middle of answering health requests
        first.wait()
        stop.set()
        flooder.join()
        second = start()
        try:
            outcome = as_user(accounts.member, version_via(str(socket_path)))
        finally:
            second.terminate()
            second.wait(30)
        assert "result" in outcome, outcome
        lines = audit_path.read_text().splitlines()
        assert lines
        for line in lines:
            json.loads(line)  # no torn line
