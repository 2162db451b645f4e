"""Compares one job's answer from the real host with the seeded twin's.

Compared always: the outcome (document, error record, ...), the error record's id,
category and exception type, the same fields of error records inside a document
(``{error_id, category, exception_type, hresult, ...}``, as health.ps1 writes them),
and the document's shape: every key path with its JSON types, list items merged
(``$.features[].state``). Compared where the seed set them: values, since a twin
seeded from an answer must give that answer back (a mismatch is a modelling bug).
Messages are never compared: they are localised and worded freely.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from ddperm.conformance.capture import Outcome
from ddperm.conformance.seed import Note

Kind = Literal[
    "outcome", "error_id", "category", "exception_type", "hresult", "shape", "value", "not_modelled"
]
Shape = dict[str, str]  # key path -> its JSON types, "|"-joined
RECORD_KEYS = ("error_id", "category", "exception_type")
_RECORD_FIELDS: tuple[Kind, ...] = ("error_id", "category", "exception_type", "hresult")
_INDEX = re.compile(r"\[\d+\]")
_LONGEST = 120


class Difference(BaseModel):
    """One way the twin answered differently (``real``/``twin``: what each side had)."""

    model_config = ConfigDict(frozen=True)

    job: str
    kind: Kind
    path: str = "$"
    real: str
    twin: str


def json_type(value: JsonValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _entries(value: JsonValue, path: str) -> Iterator[tuple[str, str]]:
    yield path, json_type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _entries(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _entries(item, f"{path}[]")


def shape(document: JsonValue) -> Shape:
    """Every key path of ``document`` with the JSON types found there (list items merged)."""
    found: dict[str, set[str]] = {}
    for path, kind in _entries(document, "$"):
        found.setdefault(path, set()).add(kind)
    return {path: "|".join(sorted(kinds)) for path, kinds in sorted(found.items())}


def _parent(path: str) -> str:
    return path[:-2] if path.endswith("[]") else path.rsplit(".", 1)[0]


def _shape_differences(job: str, real: Shape, twin: Shape) -> list[Difference]:
    found: list[Difference] = []
    reported: set[str] = set()
    for path in sorted(real.keys() | twin.keys()):
        if real.get(path) == twin.get(path):
            continue
        reported.add(path)
        missing = path not in real or path not in twin
        if missing and _parent(path) in reported:
            continue  # under a path already reported
        sides = [s.get(path, "missing") for s in (real, twin)]
        found.append(Difference(job=job, kind="shape", path=path, real=sides[0], twin=sides[1]))
    return found


def render(value: JsonValue) -> str:
    """A value as compact JSON; a long one as its length and a digest."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if len(text) <= _LONGEST:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"<{json_type(value)}, {len(text)} characters of JSON, sha256 {digest}...>"


def _covered(merged: str, prefixes: set[str]) -> bool:
    """Whether ``merged`` is one of ``prefixes`` or lies under one."""
    return any(p == "$" or merged == p or merged.startswith((p + ".", p + "[")) for p in prefixes)


class _Walk:
    """Walks both documents side by side for error-record fields and seeded values."""

    def __init__(self, job: str, skip: set[str]) -> None:
        self.job = job
        self.skip = skip  # merged paths whose values are not compared
        self.found: list[Difference] = []

    def add(self, kind: Kind, path: str, real: JsonValue, twin: JsonValue) -> None:
        self.found.append(
            Difference(job=self.job, kind=kind, path=path, real=render(real), twin=render(twin))
        )

    def walk(self, real: JsonValue, twin: JsonValue, path: str) -> None:
        if isinstance(real, dict) and isinstance(twin, dict):
            if all(k in real and k in twin for k in RECORD_KEYS):  # an error record
                for field in _RECORD_FIELDS:
                    a, b = real.get(field), twin.get(field)
                    if render(a) != render(b):
                        self.add(field, f"{path}.{field}", a, b)
                return
            for key in real.keys() & twin.keys():
                self.walk(real[key], twin[key], f"{path}.{key}")
        elif isinstance(real, list) and isinstance(twin, list) and len(real) == len(twin):
            for i, (a, b) in enumerate(zip(real, twin, strict=True)):
                self.walk(a, b, f"{path}[{i}]")
        elif render(real) != render(twin) and not _covered(_INDEX.sub("[]", path), self.skip):
            self.add("value", path, real, twin)


def _describe(outcome: Outcome) -> str:
    if outcome.error is not None:
        return f"error {outcome.error.fully_qualified_error_id}"
    return outcome.kind


def compare(job: str, real: Outcome, twin: Outcome, notes: list[Note]) -> list[Difference]:
    """Every difference between the two answers to ``job``."""
    if real.kind != twin.kind:
        return [Difference(job=job, kind="outcome", real=_describe(real), twin=_describe(twin))]
    if real.error is not None and twin.error is not None:
        pairs: list[tuple[Kind, str, str]] = [
            ("error_id", real.error.fully_qualified_error_id, twin.error.fully_qualified_error_id),
            ("category", real.error.category, twin.error.category),
            ("exception_type", real.error.exception_type, twin.error.exception_type),
        ]
        return [Difference(job=job, kind=kind, real=a, twin=b) for kind, a, b in pairs if a != b]
    if real.kind != "result":
        return []
    shapes = _shape_differences(job, shape(real.document), shape(twin.document))
    walk = _Walk(job, {n.path for n in notes} | {d.path for d in shapes})
    walk.walk(real.document, twin.document, "$")
    return shapes + walk.found
