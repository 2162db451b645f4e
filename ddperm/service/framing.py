"""Length-prefixed frames with a size limit and a read deadline.

A frame is a 4-byte big-endian length followed by that many bytes. The reader
never buffers more than the announced length, refuses a length above the limit
before reading the body, and gives up when the whole frame has not arrived by
the deadline, so a client that connects and sends nothing (or dribbles bytes)
holds only its own connection.
"""

from __future__ import annotations

import struct
import time
from typing import Literal, Protocol

HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

FrameErrorCode = Literal["bad_frame", "too_large", "truncated", "timeout"]


class FrameError(Exception):
    """The byte stream cannot carry a request any more; answer once, then close."""

    def __init__(self, code: FrameErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: FrameErrorCode = code
        self.message = message


class Stream(Protocol):
    """The few byte-stream operations framing needs (a socket or a pipe handle)."""

    def recv(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes; ``b""`` at end of stream; ``TimeoutError`` after ``timeout``."""
        ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def encode_frame(body: bytes, *, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    if not 0 < len(body) <= limit:
        raise ValueError(f"frame body must be 1 to {limit} bytes, not {len(body)}")
    return HEADER.pack(len(body)) + body


def read_frame(stream: Stream, *, limit: int, timeout: float) -> bytes | None:
    """Read one frame within ``timeout`` seconds; ``None`` on a clean end of stream.

    Raises ``FrameError`` with code ``timeout``, ``truncated``, ``too_large`` or
    ``bad_frame``.
    """
    deadline = time.monotonic() + timeout
    header = _read_exact(stream, HEADER.size, deadline, allow_eof=True)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length == 0:
        raise FrameError("bad_frame", "empty frame")
    if length > limit:
        raise FrameError("too_large", f"frame of {length} bytes exceeds the {limit}-byte limit")
    body = _read_exact(stream, length, deadline, allow_eof=False)
    return body if body is not None else b""


def _read_exact(stream: Stream, size: int, deadline: float, *, allow_eof: bool) -> bytes | None:
    chunks: list[bytes] = []
    missing = size
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FrameError("timeout", "the request did not arrive before the read deadline")
        try:
            chunk = stream.recv(min(missing, 65536), remaining)
        except TimeoutError:
            raise FrameError(
                "timeout", "the request did not arrive before the read deadline"
            ) from None
        if not chunk:
            if allow_eof and missing == size:
                return None
            raise FrameError("truncated", f"stream ended {missing} bytes short of a frame")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def drain(stream: Stream, *, limit: int, timeout: float) -> None:
    """Read and drop what the client still sends (at most ``limit`` bytes, until ``timeout``).

    Closing a socket with unread input resets the connection, and the client could
    lose the error answer it was just sent; draining first lets it read the answer.
    """
    deadline = time.monotonic() + timeout
    left = limit
    while left > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            chunk = stream.recv(min(left, 65536), remaining)
        except OSError:  # includes TimeoutError
            return
        if not chunk:
            return
        left -= len(chunk)
