"""One member cannot take the service down: fair admission, rate limits, a bounded audit log.

The attacks come first: a member holding every connection it can, a member flooding
requests, a client sending huge refused inputs. Each test here failed before admission,
rate limiting and the bounded audit log existed.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from ddperm.service import AuditLog, Limits, Service
from ddperm.service.admission import Admission
from ddperm.service.framing import encode_frame
from ddperm.service.peer import Peer
from ddperm.service.protocol import Response
from ddperm.service.unix_socket import SocketStream
from ddperm.service.windows_pipe import pipe_sddl
from ddperm.testing import FakeHost, twin_host


def member(name: str = "mallory", uid: int = 1001) -> Peer:
    return Peer(name, str(uid), ("docker-users",), ("999",))


ROOT = Peer("root", "0", ("root",), ("0",), is_admin=True)


# -- admission ------------------------------------------------------------------------------


def test_one_account_cannot_hold_more_than_its_share() -> None:
    admission = Admission(Limits(max_connections=20, admin_reserved=4, max_per_account=3))
    mallory = member()
    assert [admission.enter(mallory) for _ in range(3)] == [None, None, None]
    assert admission.enter(mallory) == "too many connections from this account"
    assert admission.enter(member("alice", 1002)) is None


def test_members_cannot_take_the_slots_kept_for_administrators() -> None:
    admission = Admission(Limits(max_connections=10, admin_reserved=2, max_per_account=1))
    for uid in range(1000, 1008):
        assert admission.enter(member(f"user{uid}", uid)) is None
    assert admission.enter(member("late", 2000)) == "busy"
    assert admission.enter(ROOT) is None
    assert admission.enter(ROOT) is None
    assert admission.enter(ROOT) == "busy"


def test_a_slot_left_is_a_slot_free_again() -> None:
    admission = Admission(Limits(max_connections=4, admin_reserved=1, max_per_account=1))
    mallory = member()
    assert admission.enter(mallory) is None
    admission.leave(mallory)
    assert admission.enter(mallory) is None


@pytest.mark.parametrize(
    "limits",
    [
        {"max_connections": 4, "admin_reserved": 4},
        {"max_per_account": 0},
        {"request_burst": 0},
        {"requests_per_second": 0},
    ],
)
def test_limits_that_would_lock_members_out_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Limits(**limits)  # type: ignore[arg-type]


# -- request rate ---------------------------------------------------------------------------


def _service(limits: Limits, audit: AuditLog | None = None) -> tuple[Service, FakeHost]:
    fake = FakeHost()
    return Service(twin_host(fake), audit or AuditLog(io.StringIO()), limits=limits), fake


def test_a_flooding_member_is_throttled_and_nothing_more_runs() -> None:
    service, fake = _service(Limits(requests_per_second=1, request_burst=5))
    answers = [service.handle(b'{"route": "version"}', member()) for _ in range(50)]
    codes = [a.error.code if a.error else "ok" for a in answers]
    assert codes[:5] == ["ok"] * 5
    assert set(codes[5:]) == {"rate_limited"}
    assert len(fake.calls) == 5


def test_administrators_and_other_members_are_not_throttled_by_one_flooder() -> None:
    service, _ = _service(Limits(requests_per_second=1, request_burst=2))
    for _ in range(20):
        service.handle(b'{"route": "version"}', member())
    assert all(service.handle(b'{"route": "version"}', ROOT).ok for _ in range(20))
    assert service.handle(b'{"route": "version"}', member("alice", 1002)).ok


# -- connection lifetime --------------------------------------------------------------------


def _answers(client: socket.socket) -> list[Response]:
    reader = client.makefile("rb")
    answers = []
    while header := reader.read(4):
        body = reader.read(int.from_bytes(header, "big"))
        answers.append(Response.model_validate_json(body))
    return answers


def test_a_connection_idle_between_requests_is_closed() -> None:
    service, _ = _service(Limits(read_timeout=5, idle_timeout=0.3))
    server, client = socket.socketpair()
    client.sendall(encode_frame(b'{"route": "version"}'))  # then nothing more
    started = time.monotonic()
    service.serve_client(SocketStream(server, 5), ROOT, group_id="999", group="docker-users")
    assert time.monotonic() - started < 5  # not the 5-second first-request deadline
    codes = [a.error.code if a.error else "ok" for a in _answers(client)]
    assert codes == ["ok", "timeout"]


def _send_quietly(client: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the service may have closed the connection already
        client.sendall(data)


def test_a_connection_is_closed_at_its_maximum_age() -> None:
    audit = io.StringIO()
    service, fake = _service(Limits(idle_timeout=5, max_connection_age=0.3), AuditLog(audit))
    server, client = socket.socketpair()
    client.sendall(encode_frame(b'{"route": "version"}'))
    late = threading.Timer(0.6, _send_quietly, [client, encode_frame(b'{"route": "version"}')])
    late.start()
    service.serve_client(SocketStream(server, 5), ROOT, group_id="999", group="docker-users")
    late.join()
    assert [a.ok for a in _answers(client)] == [True]
    assert len(fake.calls) == 1
    events = [json.loads(line)["event"] for line in audit.getvalue().splitlines()]
    assert events[-1] == "connection_closed"


# -- the audit log --------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_refusals_are_rate_limited_with_one_line_saying_how_many_were_dropped(
    tmp_path: Path,
) -> None:
    log = AuditLog.open(
        tmp_path / "logs" / "audit.jsonl", refusals_per_second=0.001, refusal_burst=3
    )
    for _ in range(100):
        log.refusal("connection_refused", peer=member(), reason="busy")
    log.close()
    lines = _lines(tmp_path / "logs" / "audit.jsonl")
    assert [line["event"] for line in lines] == ["connection_refused"] * 3 + ["suppressed"]
    assert lines[-1]["dropped"] == 97


def test_a_request_that_ran_is_always_recorded_even_during_a_flood(tmp_path: Path) -> None:
    audit = AuditLog.open(
        tmp_path / "logs" / "audit.jsonl", refusals_per_second=0.001, refusal_burst=1
    )
    service, fake = _service(Limits(requests_per_second=1000, request_burst=1000), audit)
    for _ in range(50):
        service.handle(b'{"route": "no.such.route"}', member())
    for _ in range(5):
        assert service.handle(b'{"route": "version"}', member()).ok
    audit.close()
    ran = [e for e in _lines(tmp_path / "logs" / "audit.jsonl") if e.get("outcome") == "ok"]
    assert len(ran) == len(fake.calls) == 5


def test_refused_input_is_truncated_in_the_log(tmp_path: Path) -> None:
    audit = AuditLog.open(tmp_path / "logs" / "audit.jsonl")
    service, _ = _service(Limits(), audit)
    route = "x" * 60
    body = json.dumps({"route": route, "params": {"p": "y" * 5000}}).encode()
    service.handle(body, member())
    audit.close()
    line = (tmp_path / "logs" / "audit.jsonl").read_text()
    assert len(line) < 1500
    assert "y" * 300 not in line


def test_the_log_rotates_and_stays_under_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    audit = AuditLog.open(path, max_bytes=4096, backups=2)
    for index in range(2000):
        audit.record("request", peer=ROOT, route="version", index=index)
    audit.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert sum(f.stat().st_size for f in files) <= 3 * 4096 + 512
    newest = _lines(path)
    assert newest[-1]["index"] == 1999  # the latest records are kept, whole
    for f in files:
        for line in f.read_text().splitlines():
            json.loads(line)


def test_an_audit_log_whose_parent_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone could rename logs/ away and put their own
    with pytest.raises(Exception, match="writable by other users"):
        AuditLog.open(shared / "logs" / "audit.jsonl")


# -- the Windows pipe's group ---------------------------------------------------------------


@pytest.mark.parametrize(
    "sid",
    [
        "S-1-1-0",  # Everyone
        "S-1-5-11",  # Authenticated Users
        "S-1-5-32-545",  # BUILTIN\\Users
        "S-1-5-7",  # ANONYMOUS LOGON
        "S-1-15-2-1",  # ALL APPLICATION PACKAGES
        "S-1-5-4",  # INTERACTIVE
        "S-1-5-32-546",  # Guests
        "S-1-5-21-1004336348-1177238915-682003330-513",  # Domain Users
        "S-1-5-21-1004336348-1177238915-682003330-500",  # the built-in Administrator
        "S-1-5-18",  # SYSTEM
        "S-1-5-32-544",  # Administrators
    ],
)
def test_broad_or_built_in_groups_cannot_be_the_service_group(sid: str) -> None:
    with pytest.raises(ValueError, match="dedicated group"):
        pipe_sddl(sid)


def test_a_created_group_can_be_the_service_group() -> None:
    assert "S-1-5-21-1004336348-1177238915-682003330-1009" in pipe_sddl(
        "S-1-5-21-1004336348-1177238915-682003330-1009"
    )
