"""Framing and request parsing: size limit, deadline, strict JSON, no type-directed input."""

from __future__ import annotations

import json
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddperm.service.framing import FrameError, encode_frame, read_frame
from ddperm.service.protocol import RequestError, loads_strict, parse_envelope
from ddperm.service.unix_socket import SocketStream


@pytest.fixture
def pair() -> tuple[SocketStream, socket.socket]:
    server, client = socket.socketpair()
    yield SocketStream(server, 5.0), client
    server.close()
    client.close()


def test_a_frame_round_trips(pair: tuple[SocketStream, socket.socket]) -> None:
    stream, peer = pair
    peer.sendall(encode_frame(b'{"route":"version"}') + encode_frame(b"second"))
    assert read_frame(stream, limit=1024, timeout=5) == b'{"route":"version"}'
    assert read_frame(stream, limit=1024, timeout=5) == b"second"


def test_a_clean_end_of_stream_is_not_an_error(pair: tuple[SocketStream, socket.socket]) -> None:
    stream, peer = pair
    peer.shutdown(socket.SHUT_WR)
    assert read_frame(stream, limit=1024, timeout=5) is None


def test_an_oversized_frame_is_refused_before_its_body_is_read(
    pair: tuple[SocketStream, socket.socket],
) -> None:
    stream, peer = pair
    peer.sendall(struct.pack(">I", 1025) + b"x" * 10)
    with pytest.raises(FrameError) as caught:
        read_frame(stream, limit=1024, timeout=5)
    assert caught.value.code == "too_large"
    stream.sock.setblocking(False)
    assert stream.sock.recv(100) == b"x" * 10  # the body was left unread


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (struct.pack(">I", 50) + b"only part", "truncated"),
        (b"\x00\x00", "truncated"),
        (struct.pack(">I", 0), "bad_frame"),
    ],
)
def test_broken_frames_are_named(
    pair: tuple[SocketStream, socket.socket], data: bytes, code: str
) -> None:
    stream, peer = pair
    peer.sendall(data)
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(FrameError) as caught:
        read_frame(stream, limit=1024, timeout=5)
    assert caught.value.code == code


@pytest.mark.parametrize("sent", [b"", b"\x00\x00\x00\x10{"])
def test_a_silent_or_dribbling_client_hits_the_deadline(
    pair: tuple[SocketStream, socket.socket], sent: bytes
) -> None:
    stream, peer = pair
    peer.sendall(sent)
    with pytest.raises(FrameError) as caught:
        read_frame(stream, limit=1024, timeout=0.05)
    assert caught.value.code == "timeout"


@pytest.mark.parametrize(
    "body",
    [
        b'{"route": "version", "route": "health"}',  # duplicate key: which one wins?
        b'{"route": "version", "params": {"timeout": NaN}}',
        b'{"route": "version", "params": {"timeout": Infinity}}',
        b"\xff\xfe{}",
        b'{"route": "version"',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"route": "version", "params": {"n": ' + b"9" * 5000 + b"}}",
    ],
)
def test_not_strict_json_is_bad_json(body: bytes) -> None:
    with pytest.raises(RequestError) as caught:
        parse_envelope(body)
    assert caught.value.code == "bad_json"


@pytest.mark.parametrize(
    "document",
    [
        [],
        "version",
        {"route": 5},
        {"route": ["version"]},
        {"route": "version", "params": []},
        {"route": "version", "params": "force=true"},
        {"route": "version", "v": 2},
        {"route": "version", "v": "1"},
        {"route": "version", "v": True},
        {"route": "version", "v": 1.0},
        {"route": "version", "id": 7},
        {"route": "x" * 65},
        # Type-directed deserialization hints (Json.NET, jsonpickle, YAML) are just unknown keys.
        {"$type": "System.Windows.Data.ObjectDataProvider, PresentationFramework", "route": "x"},
        {"py/object": "os.system", "route": "version"},
        {"__class__": "subprocess.Popen", "route": "version"},
    ],
)
def test_a_request_that_is_not_an_envelope_is_a_bad_request(document: object) -> None:
    with pytest.raises(RequestError) as caught:
        parse_envelope(json.dumps(document).encode())
    assert caught.value.code == "bad_request"


def test_parsed_requests_hold_only_plain_json_data() -> None:
    envelope = parse_envelope(
        b'{"route": "features.check", "params": {"required": ["Containers"], "$type": "X"}}'
    )
    assert envelope.params == {"required": ["Containers"], "$type": "X"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.binary(max_size=2048))
def test_random_bytes_never_escape_as_anything_but_request_error(body: bytes) -> None:
    try:
        envelope = parse_envelope(body)
    except RequestError as exc:
        code = exc.code
    else:
        code = "ok"
        assert isinstance(envelope.route, str)
    assert code in ("bad_json", "bad_request", "ok")


@given(json_values)
def test_random_json_parses_to_the_same_plain_data(value: object) -> None:
    assert loads_strict(json.dumps(value).encode()) == value


@pytest.mark.parametrize("depth", [900, 5000])
def test_deeply_nested_parameters_are_refused_with_a_short_message(depth: int) -> None:
    body = b'{"route": "version", "params": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(RequestError) as caught:
        parse_envelope(body)
    assert caught.value.code in ("bad_request", "bad_json")
    assert len(caught.value.message) < 300
