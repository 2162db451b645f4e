from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from ddperm.testing import FakeHost
from tests.backends import BACKENDS, Backend, inprocess

# The run fails if any test touches a path outside the repository (tests/_outside_reads.py).
pytest_plugins = ["tests._outside_reads"]

# CI explores a fixed, larger set of examples (a landing must not hinge on a random draw);
# local runs draw new random examples every time, which is where new edge cases turn up.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if __import__("os").environ.get("CI") else "dev")


@pytest.fixture(params=sorted(BACKENDS))
def make_backend(request: pytest.FixtureRequest) -> Iterator[Callable[..., Backend]]:
    """Build a backend around a seeded FakeHost: ``make_backend(fake, **host_options)``."""
    factory = BACKENDS[request.param]
    with ExitStack() as stack:

        def build(fake: FakeHost | None = None, **options: Any) -> Backend:
            return stack.enter_context(factory(fake or FakeHost(), **options))  # type: ignore[arg-type]

        yield build


@pytest.fixture
def backend(make_backend: Callable[..., Backend]) -> Backend:
    """A backend over a fresh, healthy FakeHost."""
    return make_backend()


@pytest.fixture
def twin() -> Iterator[Backend]:
    """The in-process backend only, for refusals that must happen before any runner is used."""
    with inprocess(FakeHost()) as built:
        yield built
