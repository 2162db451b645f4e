"""The request and response documents: strict JSON in, plain JSON out.

Requests are parsed as plain JSON data only (objects, arrays, strings, numbers,
booleans, null): no type tags, no object hooks that build arbitrary types
(CVE-2018-15514 was a .NET deserializer that did). Duplicate keys, NaN and
Infinity are refused, and the document must be one object matching ``Envelope``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

PROTOCOL_VERSION: Literal[1] = 1

ErrorCode = Literal[
    "bad_frame",
    "too_large",
    "truncated",
    "timeout",
    "bad_json",
    "bad_request",
    "unknown_route",
    "forbidden",
    "policy_refused",
    "host_error",
    "transport_error",
    "output_error",
    "busy",
    "rate_limited",
    "internal_error",
]


class RequestError(Exception):
    """A request that must be answered with an error and never executed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


class Envelope(BaseModel):
    """One request: which route, and its parameters (validated later by the route's model)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: int = Field(default=PROTOCOL_VERSION, ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION)
    id: str | None = Field(default=None, max_length=64)
    route: str = Field(min_length=1, max_length=64)
    params: dict[str, JsonValue] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ErrorCode
    message: str
    fully_qualified_error_id: str = ""


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = PROTOCOL_VERSION
    id: str | None = None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(body: bytes) -> Any:
    """Plain JSON data from UTF-8 bytes, or ``RequestError('bad_json')``."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestError("bad_json", f"the request is not strict UTF-8 JSON: {exc}") from None


def parse_envelope(body: bytes) -> Envelope:
    data = loads_strict(body)
    if not isinstance(data, dict):
        raise RequestError("bad_request", "the request must be a JSON object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise RequestError("bad_request", summarize(exc)) from None


def summarize(exc: ValidationError) -> str:
    """A short, input-free description of what was wrong (never echo the raw request)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"])[:120] or "request"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def encode_response(response: Response) -> bytes:
    return response.model_dump_json(exclude_none=True).encode("utf-8")


def error_response(
    code: ErrorCode, message: str, *, id: str | None = None, fqid: str = ""
) -> Response:
    return Response(
        id=id, ok=False, error=ErrorBody(code=code, message=message, fully_qualified_error_id=fqid)
    )
