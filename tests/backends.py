"""Every backend the contract tests run against.

A backend gives a ``Host`` plus the ``FakeHost`` behind it (None for a real host,
where tests that must seed state are skipped with the reason shown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ddperm.host import Host
from ddperm.testing import FakeHost, TwinRunner


@dataclass
class Backend:
    name: str
    host: Host
    fake: FakeHost | None


BackendFactory = Callable[[FakeHost], "contextmanager[Backend]"]


@contextmanager
def inprocess(fake: FakeHost, **options: object) -> Iterator[Backend]:
    with Host(TwinRunner(fake), **options) as host:  # type: ignore[arg-type]
        yield Backend("inprocess", host, fake)


BACKENDS: dict[str, Callable[..., object]] = {"inprocess": inprocess}
