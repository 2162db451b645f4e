from __future__ import annotations

import inspect
import os
import re
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
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# Contract tests in these modules drive the Hyper-V VM: on a real host without a hypervisor
# (DDPERM_TEST_NO_HYPERV=1, e.g. a CI runner) they are skipped with that reason.
HYPERV_MODULES = {"test_vm", "test_vhd", "test_vm_security", "test_path_parity"}


# Through the JEA backend every job runs as the session's virtual administrator account,
# whoever connected: a test that seeds the caller's own rights (fake.caller, in the test or
# in a function it is parametrized with) does not apply; nor does one that snapshots the
# host before building its backend, since that backend installs the endpoint first.
_RUNS_AS_CALLER = re.compile(r"\.caller\.")
_STATE_BEFORE_BACKEND = re.compile(r"before = .*make_backend\(", re.S)


def _not_for_jea(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "winrm-jea" not in callspec.params.values():
        return ""
    functions = [item.function, *(v for v in callspec.params.values() if inspect.isfunction(v))]  # type: ignore[attr-defined]
    sources = [inspect.getsource(f) for f in functions]
    if any(_RUNS_AS_CALLER.search(source) for source in sources):
        return "JEA runs every job as its virtual administrator, not as the seeded caller"
    if _STATE_BEFORE_BACKEND.search(sources[0]):
        return "compares the host with its state before the backend installed the endpoint"
    return ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in HYPERV_MODULES:
            item.add_marker(pytest.mark.hyperv)
        reason = _not_for_jea(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _no_system_kerberos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep Kerberos inside the tests: with gssapi installed, Negotiate tries Kerberos first,
    and the machine's krb5.conf (Debian's default realm names public KDCs) must never be
    asked. A realm without KDCs fails at once; tests/test_winrm_kerberos.py brings its own.
    A run against a real host (DDPERM_TEST_HOST) or an explicit KRB5_CONFIG is left alone."""
    if os.environ.get("DDPERM_TEST_HOST") or os.environ.get("KRB5_CONFIG"):
        yield
        return
    folder = tmp_path_factory.mktemp("no-kerberos")
    (folder / "krb5.conf").write_text(
        "[libdefaults]\n default_realm = TESTS.INVALID\n dns_lookup_kdc = false\n"
        " dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KRB5_CONFIG", str(folder / "krb5.conf"))
        patch.setenv("KRB5CCNAME", f"FILE:{folder / 'ccache'}")
        patch.setenv("KRB5_KTNAME", f"FILE:{folder / 'keytab'}")
        yield


@pytest.fixture(params=sorted(BACKENDS))
def make_backend(request: pytest.FixtureRequest) -> Iterator[Callable[..., Backend]]:
    """Build a backend around a seeded FakeHost: ``make_backend(fake, **host_options)``."""
    if (
        request.param.startswith("real-")
        and os.environ.get("DDPERM_TEST_NO_HYPERV")
        and request.node.get_closest_marker("hyperv")
    ):
        pytest.skip("drives the Hyper-V VM: this real host has no hypervisor")
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
