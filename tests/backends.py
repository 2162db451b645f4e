"""Every backend the contract tests run against.

A backend gives a ``Host`` plus the ``FakeHost`` behind it (None for a real host,
where tests that must seed state are skipped with the reason shown).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ddperm.host import Host
from ddperm.jea.module import Role
from ddperm.testing import FakeHost, TwinRunner
from ddperm.testing.jea import install_jea
from ddperm.testing.standin import standin_host
from ddperm.testing.winrm import shared_endpoint
from ddperm.transports.local import local as ddperm_local
from ddperm.transports.psrp import connect


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


@contextmanager
def inprocess_core(fake: FakeHost, **options: object) -> Iterator[Backend]:
    """The in-process twin with PowerShell 7 running the scripts (``FakeHost.edition``).

    Only in-process: the transports do not depend on the edition, except the local wrapper's
    JSON reading, which tests/test_local_standin.py covers under Core on its own.
    """
    fake.edition = "Core"
    fake.os.powershell_version = "7.4.6"
    with inprocess(fake, **options) as built:
        yield Backend("inprocess-core", built.host, fake)


@contextmanager
def _over_winrm(name: str, auth: str, fake: FakeHost, **options: Any) -> Iterator[Backend]:
    """The twin served over WinRM on 127.0.0.1 (one endpoint per auth for the session)."""
    endpoint = shared_endpoint(auth)
    endpoint.fake = fake
    with connect(**endpoint.connect_options(), **options) as host:
        yield Backend(name, host, fake)


JEA_USER = r"DEV-PC01\alice"
"""Who the JEA backend logs in as: no administrator, in ddperm-admins (DdpermAdministrator)."""


@contextmanager
def over_jea(fake: FakeHost, **options: Any) -> Iterator[Backend]:
    """The twin over WinRM through its JEA endpoint ``ddperm`` (installed on ``fake`` first),
    every job a module function called by name in a NoLanguage session."""
    endpoint = shared_endpoint("ntlm", accounts={JEA_USER: "Alice-Passw0rd!"})
    install_jea(fake, {Role.ADMINISTRATOR: [JEA_USER]})
    # Transcripts grow with every call; the contract tests compare the host's state before
    # and after a job, so here the endpoint keeps none (tests/test_jea*.py check them).
    fake.session_configurations["ddperm"].transcript_directory = ""
    fake.calls.clear()
    endpoint.fake = fake
    with connect(
        **endpoint.connect_options(JEA_USER), configuration_name="ddperm", **options
    ) as host:
        yield Backend("winrm-jea", host, fake)


@contextmanager
def local(fake: FakeHost, **options: Any) -> Iterator[Backend]:
    """ddperm.local() through the stand-in powershell, one persistent process per test."""
    with standin_host(fake, persistent=True, **options) as host:
        yield Backend("local", host, fake)


@contextmanager
def real_host(fake: FakeHost, **options: Any) -> Iterator[Backend]:
    """A real Windows host from DDPERM_TEST_HOST (+ _USERNAME, _PASSWORD, _AUTH, _PORT, _SSL)."""
    env = os.environ
    with connect(
        env["DDPERM_TEST_HOST"],
        username=env.get("DDPERM_TEST_USERNAME"),
        password=env.get("DDPERM_TEST_PASSWORD"),
        auth=env.get("DDPERM_TEST_AUTH", "negotiate"),
        port=int(env["DDPERM_TEST_PORT"]) if env.get("DDPERM_TEST_PORT") else None,
        ssl=env.get("DDPERM_TEST_SSL", "1") != "0",
        **options,
    ) as host:
        yield Backend("real-host", host, None)


@contextmanager
def real_local(fake: FakeHost, **options: Any) -> Iterator[Backend]:
    """This Windows machine through ddperm.local(DDPERM_TEST_LOCAL): powershell.exe or pwsh."""
    with ddperm_local(os.environ["DDPERM_TEST_LOCAL"], **options) as host:
        yield Backend("real-local", host, None)


BACKENDS: dict[str, Callable[..., object]] = {
    "inprocess": inprocess,
    "inprocess-core": inprocess_core,
    "winrm-basic": functools.partial(_over_winrm, "winrm-basic", "basic"),
    "winrm-ntlm": functools.partial(_over_winrm, "winrm-ntlm", "ntlm"),
    "winrm-jea": over_jea,
    "local": local,
}
if os.environ.get("DDPERM_TEST_HOST"):
    BACKENDS["real-host"] = real_host
if os.environ.get("DDPERM_TEST_LOCAL"):
    BACKENDS["real-local"] = real_local
