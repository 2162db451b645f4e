"""The service over a real Unix socket, backed by the twin: routes, refusals, audit, limits."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddperm.errors import HostError, PolicyError
from ddperm.service import ROUTES, AuditLog, Limits, Service, ServiceStartError
from ddperm.service.client import ServiceError
from ddperm.service.framing import encode_frame
from ddperm.service.peer import Peer
from ddperm.service.protocol import Response
from ddperm.service.unix_socket import SocketStream
from ddperm.testing import FakeHost, twin_host
from tests.test_service_helpers import Running, own_group, serve_twin

WINDOWS_ROUTES = sorted(name for name, r in ROUTES.items() if r.windows_engine)
DAEMON_SETTINGS = ["pidfile", "data-root", "exec-path", "hosts", "group", "DaemonJSON", "daemon"]


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Running]:
    with serve_twin(tmp_path) as running:
        yield running


def frame(document: object) -> bytes:
    return encode_frame(json.dumps(document).encode())


# -- routes ---------------------------------------------------------------------------------


def test_version_over_the_socket_equals_the_library_answer(svc: Running) -> None:
    svc.fake.os.build = 19045
    with svc.client() as client:
        answer = client.call("version")
    assert answer == twin_host(svc.fake).version()
    assert answer.host.os_build == 19045  # type: ignore[attr-defined]


def test_health_over_the_socket_equals_the_library_answer(svc: Running) -> None:
    svc.fake.features["Containers"] = "Disabled"
    with svc.client() as client:
        answer = client.call("health")
    assert answer == twin_host(svc.fake).health()


def test_features_check_passes_validated_names(svc: Running) -> None:
    with svc.client() as client:
        report = client.request("features.check", {"required": ["Containers"]})
    assert [f["name"] for f in report["features"]] == ["Containers"]
    assert svc.audit()[-1]["params"] == {"required": ["Containers"]}


def test_a_host_error_comes_back_with_its_error_id(svc: Running) -> None:
    svc.fake.caller.elevated = False
    with svc.client() as client, pytest.raises(HostError) as caught:
        client.call("bootloader.status")
    assert caught.value.fully_qualified_error_id
    assert svc.audit()[-1]["outcome"] == "host_error"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_no_route_takes_a_vm_name_or_unknown_fields(name: str) -> None:
    route = ROUTES[name]
    fields = set(route.request.model_fields)
    assert not {f for f in fields if "name" in f or "vm" in f}
    paths = {f for f in fields if any(w in f for w in ("path", "folder", "dir", "root"))}
    assert paths <= ({"destination"} if name == "vhd.move" else set())
    for extra in ({"name": "OtherVM"}, {"vm_name": "DockerDesktopVM"}, {"VMName": "x"}):
        with pytest.raises(Exception, match="Extra inputs are not permitted"):
            route.parse(extra)


@pytest.mark.parametrize("route", WINDOWS_ROUTES)
@pytest.mark.parametrize("field", DAEMON_SETTINGS)
def test_daemon_settings_never_reach_the_engine(svc: Running, route: str, field: str) -> None:
    """CVE-2022-37326 (pidfile), CVE-2022-38730 (data-root), CVE-2024-5652 (exec-path)."""
    before = dict(vars(svc.fake.services["docker"]))
    with svc.client() as client, pytest.raises(ServiceError) as caught:
        client.request(route, {field: r"C:\Windows\System32\config\SAM"})
    assert caught.value.code == "bad_request"
    assert svc.fake.calls == []
    assert vars(svc.fake.services["docker"]) == before
    assert svc.audit()[-1]["outcome"] == "bad_request"


def test_engine_routes_work_when_windows_containers_are_enabled(svc: Running) -> None:
    with svc.client() as client:
        change = client.request("engine.start", {"timeout": 30})
    assert change["changed"] is True
    assert svc.fake.services["docker"].status == "Running"


@pytest.mark.parametrize("route", WINDOWS_ROUTES)
def test_disabled_windows_containers_are_refused_at_the_api(tmp_path: Path, route: str) -> None:
    """The --no-windows-containers flag was once bypassed through the raw API (CyberArk)."""
    with serve_twin(tmp_path, windows_containers_enabled=False) as svc:
        before = svc.fake.services["docker"].status
        with svc.client() as client, pytest.raises(PolicyError, match="disabled"):
            client.request(route, {})
        assert svc.fake.calls == []
        assert svc.fake.services["docker"].status == before
        assert svc.audit()[-1]["outcome"] == "policy_refused"


# -- malformed input over the wire ------------------------------------------------------------


def test_bad_json_is_answered_and_the_connection_survives(svc: Running) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(svc.path)
    with sock, sock.makefile("rb") as reader:
        for body in (b"{not json", b'{"route": "version", "route": "health"}', b"[1]"):
            sock.sendall(encode_frame(body))
            answer = Response.model_validate_json(
                reader.read(struct.unpack(">I", reader.read(4))[0])
            )
            assert answer.error is not None
            assert answer.error.code in ("bad_json", "bad_request")
        sock.sendall(frame({"route": "version"}))
        answer = Response.model_validate_json(reader.read(struct.unpack(">I", reader.read(4))[0]))
    assert answer.ok
    assert [c[0] for c in svc.fake.calls] == ["version"]


def test_an_oversized_request_is_refused_unread_and_the_server_survives(svc: Running) -> None:
    answer = svc.raw(struct.pack(">I", 64 * 1024 + 1) + b"{" * 1000)
    assert answer is not None
    assert answer["error"]["code"] == "too_large"
    with svc.client() as client:
        assert client.request("version")["ddperm"]
    assert [c[0] for c in svc.fake.calls] == ["version"]


def test_a_truncated_request_runs_nothing(svc: Running) -> None:
    body = json.dumps({"route": "engine.start"}).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(svc.path)
    sock.sendall(struct.pack(">I", len(body)) + body[:-3])
    sock.shutdown(socket.SHUT_WR)
    data = sock.makefile("rb").read()
    sock.close()
    assert json.loads(data[4:])["error"]["code"] == "truncated"
    assert svc.fake.calls == []
    assert svc.fake.services["docker"].status == "Stopped"


def test_a_silent_client_is_dropped_and_starves_nobody(tmp_path: Path) -> None:
    with serve_twin(tmp_path, limits=Limits(read_timeout=0.5)) as svc:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(svc.path)
        with svc.client() as client:
            assert client.request("version")["ddperm"]
        silent.settimeout(30)
        data = silent.makefile("rb").read()  # the service answers, then closes
        silent.close()
        assert json.loads(data[4:])["error"]["code"] == "timeout"
        assert svc.audit()[-1]["outcome"] == "timeout"


# -- audit ------------------------------------------------------------------------------------


def test_every_request_is_audited_with_the_peer_the_kernel_reported(svc: Running) -> None:
    with svc.client() as client:
        client.request("engine.stop", {"timeout": 5})
        with pytest.raises(ServiceError):
            client.request("no.such.route")
    ok, unknown = svc.audit()
    assert ok["route"] == "engine.stop"
    assert ok["params"] == {"timeout": 5}
    assert ok["outcome"] == "ok"
    assert ok["duration_ms"] >= 0
    assert ok["peer"]["user_id"] == str(os.geteuid())
    assert ok["peer"]["pid"] == os.getpid()
    assert str(os.getegid()) in ok["peer"]["group_ids"]
    assert own_group() in ok["peer"]["groups"]
    assert unknown["outcome"] == "unknown_route"
    assert unknown["params"] is None
    assert stat.S_IMODE(svc.audit_path.stat().st_mode) == 0o600


# -- the socket and its directory -------------------------------------------------------------


def test_the_socket_is_owned_by_the_service_and_the_group_with_mode_0660(svc: Running) -> None:
    import grp

    info = os.lstat(svc.path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_uid == os.geteuid()
    assert info.st_gid == grp.getgrnam(own_group()).gr_gid


def test_a_second_service_on_a_live_socket_refuses_to_start(svc: Running) -> None:
    """The POSIX twin of pipe squatting (CVE-2020-11492): never take over a live endpoint."""
    second = serve_twin(Path(svc.path).parent.parent, socket_path=Path(svc.path))
    with pytest.raises(ServiceStartError, match="already serving"), second:
        pass
    with svc.client() as client:
        assert client.request("version")["ddperm"]


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ddperm.sock"
    path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    with serve_twin(tmp_path) as svc, svc.client() as client:
        assert client.request("version")["ddperm"]


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_something_else_at_the_socket_path_is_left_alone(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "run" / "ddperm.sock"
    path.parent.mkdir()
    target = tmp_path / "precious"
    target.write_text("keep me")
    if kind == "file":
        path.write_text("keep me")
    else:
        path.symlink_to(target)
    with pytest.raises(ServiceStartError, match="not a socket"), serve_twin(tmp_path):
        pass
    assert path.read_text() == "keep me"


def test_a_socket_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o777)
    with pytest.raises(ServiceStartError, match="writable by other users"), serve_twin(tmp_path):
        pass
    assert list(run.iterdir()) == []


def test_a_missing_group_refuses_to_start(tmp_path: Path) -> None:
    nameless = serve_twin(tmp_path, group="ddperm-no-such-group-xyz")
    with pytest.raises(ServiceStartError, match="does not exist"), nameless:
        pass


# -- load and fuzz ----------------------------------------------------------------------------


def test_100_concurrent_clients_are_all_answered_correctly(tmp_path: Path) -> None:
    expected_host = twin_host(FakeHost())
    expected = {
        "version": expected_host.version().model_dump(mode="json"),
        "hyperv.status": expected_host.hyperv.status().model_dump(mode="json"),
        "engine.status": expected_host.engine.status().model_dump(mode="json"),
        "features.check": expected_host.features.check().model_dump(mode="json"),
    }
    mix = sorted(expected)
    with serve_twin(tmp_path) as svc:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(svc.path)  # connects and sends nothing for the whole test
        start = threading.Barrier(100)
        results: dict[int, list[object]] = {}

        def worker(n: int) -> None:
            with svc.client() as client:
                start.wait()
                results[n] = [client.request(mix[(n + i) % 4]) for i in range(3)]

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        silent.close()
    assert len(results) == 100
    for n, answers in results.items():
        assert answers == [expected[mix[(n + i) % 4]] for i in range(3)]


def _peer() -> Peer:
    return Peer(user="root", user_id="0", groups=("root",), group_ids=("0",), is_admin=True)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(sorted(ROUTES)),
    params=st.dictionaries(st.text(max_size=12), json_values, min_size=1, max_size=3),
)
def test_fuzzed_parameters_run_nothing_unless_valid(route: str, params: dict[str, object]) -> None:
    fake = FakeHost()
    with twin_host(fake) as host:
        service = Service(host, AuditLog(io.StringIO()))
        answer = service.handle(json.dumps({"route": route, "params": params}).encode(), _peer())
    if not answer.ok:
        assert answer.error is not None
        assert answer.error.code in ("bad_request", "policy_refused", "host_error")
        if answer.error.code == "bad_request":
            assert fake.calls == []
    else:
        ROUTES[route].parse(params)  # it ran only because it was valid


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.binary(max_size=600))
def test_fuzzed_byte_streams_never_crash_the_server_or_run_anything(
    svc: Running, stream: bytes
) -> None:
    svc.fake.calls.clear()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(svc.path)
    sock.sendall(stream)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(30)
    data = sock.makefile("rb").read()
    sock.close()
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        answer = Response.model_validate_json(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
        if not answer.ok:
            assert answer.error is not None
    assert svc.fake.calls == []
    with svc.client() as client:
        assert client.request("version")["ddperm"]


def test_connections_beyond_the_limit_are_told_to_come_back(tmp_path: Path) -> None:
    with (
        serve_twin(tmp_path, limits=Limits(max_connections=1, admin_reserved=0)) as svc,
        svc.client() as first,
    ):
        assert first.request("version")["ddperm"]  # holds the only slot while connected
        with svc.client() as second, pytest.raises(ServiceError) as caught:
            second.request("version")
        assert caught.value.code == "busy"
        assert svc.audit("connection_refused")[-1]["reason"] == "busy"
        assert [c[0] for c in svc.fake.calls] == ["version"]


class _BrokenRunner:
    """A runner whose host blows up in a way ddperm did not foresee."""

    def run(self, script: object, params: object) -> str:
        raise RuntimeError("secret internal detail")

    def close(self) -> None:
        pass


def test_an_unforeseen_failure_is_an_internal_error_without_details_for_the_client() -> None:
    from ddperm.host import Host

    audit = io.StringIO()
    service = Service(Host(_BrokenRunner()), AuditLog(audit))
    answer = service.handle(b'{"route": "version"}', _peer())
    assert answer.error is not None
    assert answer.error.code == "internal_error"
    assert "secret" not in answer.error.message
    record = json.loads(audit.getvalue())
    assert record["unexpected"] == "RuntimeError: secret internal detail"


def test_stopping_ends_idle_connections_without_waiting_for_their_deadline(tmp_path: Path) -> None:
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with serve_twin(tmp_path, limits=Limits(read_timeout=600)) as svc:
        idle.connect(svc.path)
        idle.sendall(frame({"route": "version"}))
        reader = idle.makefile("rb")
        (length,) = struct.unpack(">I", reader.read(4))
        assert Response.model_validate_json(reader.read(length)).ok  # admitted, now idle
    idle.settimeout(120)
    assert reader.read() == b""  # the service closed it when it stopped
    idle.close()
    assert svc.audit("stop")


def _frames(data: bytes) -> list[Response]:
    answers = []
    while data:
        (length,) = struct.unpack(">I", data[:4])
        answers.append(Response.model_validate_json(data[4 : 4 + length]))
        data = data[4 + length :]
    return answers


@pytest.mark.parametrize("admitted", [True, False])
def test_a_request_read_to_identify_the_client_runs_only_after_admission(admitted: bool) -> None:
    """Named pipes yield the client's token only after a read: that first request waits."""
    fake = FakeHost()
    server, client = socket.socketpair()
    client.sendall(frame({"route": "version", "id": "second"}))
    client.shutdown(socket.SHUT_WR)
    peer = _peer() if admitted else Peer("dev", "1000", ("users",), ("100",))
    with twin_host(fake) as host:
        Service(host, AuditLog(io.StringIO())).serve_client(
            SocketStream(server, 5.0),
            peer,
            group_id="999",
            group="docker-users",
            first_request=b'{"route": "hyperv.status", "id": "first"}',
        )
    answers = _frames(client.makefile("rb").read())
    client.close()
    if admitted:
        assert [(a.id, a.ok) for a in answers] == [("first", True), ("second", True)]
        assert [c[0] for c in fake.calls] == ["hyperv_status", "version"]
    else:
        assert [a.error.code for a in answers if a.error] == ["forbidden"]
        assert fake.calls == []


def test_an_audit_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o777)
    with pytest.raises(ServiceStartError, match="other users"):
        AuditLog.open(logs / "audit.jsonl")
    assert list(logs.iterdir()) == []


def test_the_audit_log_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / "audit.jsonl").symlink_to(victim)
    with pytest.raises(OSError):
        AuditLog.open(logs / "audit.jsonl")
    assert victim.read_text() == "untouched"
