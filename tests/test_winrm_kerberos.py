"""Kerberos end to end, the way domain fleets authenticate: ``ddperm.connect(auth="kerberos")``
and ``auth="negotiate"`` against the twin, with tickets from a real MIT KDC on loopback
(ddperm.testing.winrm.kerberos), message encryption over http, and the failures a person
meets: an expired ticket, a service principal the KDC does not know, one the host has no key
for. Skipped, with the reason, where the KDC or gssapi cannot run."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ddperm
from ddperm.errors import AuthenticationError
from ddperm.host import Host
from ddperm.retry import RetryPolicy
from ddperm.testing import FakeHost
from ddperm.testing.jobs.hyperv import seed_docker_vm
from ddperm.testing.winrm import Endpoint, serve
from ddperm.testing.winrm.kerberos import KerberosUnavailable, Realm, start_realm
from tests.test_winrm_idle import wait_until_idle_closed

PASSWORD = "Kerb-Passw0rd"
HOST = "localhost"
"""The name clients connect to, so the SPN is HTTP/localhost (or host/localhost)."""
NO_RETRY = RetryPolicy(attempts=1, deadline=30, initial_wait=0.01, max_wait=0.01)

if importlib.util.find_spec("gssapi") is None:
    pytest.skip("gssapi is missing: pip install 'ddperm[kerberos]'", allow_module_level=True)


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    try:
        with (
            start_realm(tmp_path_factory.mktemp("realm")) as started,
            pytest.MonkeyPatch.context() as patch,
        ):
            for name, value in started.environ.items():
                patch.setenv(name, value)
            yield started
    except KerberosUnavailable as exc:
        pytest.skip(f"no Kerberos KDC here: {exc}")


@pytest.fixture(scope="module")
def user(realm: Realm) -> str:
    return realm.add_principal("ddperm", PASSWORD)


@pytest.fixture(scope="module")
def keytab(realm: Realm) -> Path:
    return realm.host_keytab(HOST)


@pytest.fixture
def endpoint(keytab: Path) -> Iterator[Endpoint]:
    with serve(FakeHost(), auth="kerberos", keytab=keytab) as served:
        yield served


@pytest.fixture
def ticket(realm: Realm, user: str) -> Iterator[None]:
    realm.kinit(user, PASSWORD)
    yield
    realm.run(["kdestroy"], check=False)


def connect(endpoint: Endpoint, **options: Any) -> Host:
    settings: dict[str, Any] = {"port": endpoint.port, "ssl": False, "auth": "kerberos"}
    return ddperm.connect(HOST, **(settings | options), retry=NO_RETRY)


def test_kerberos_with_a_password_encrypts_every_message_over_http(
    endpoint: Endpoint, user: str
) -> None:
    with connect(endpoint, username=user, password=PASSWORD) as host:
        assert host.version().host.os_build == endpoint.fake.os.build
    assert endpoint.authentications == {"kerberos": 1}
    assert endpoint.encrypted_requests >= 3  # pool open, command, receive: all sealed


@pytest.mark.usefixtures("ticket")
def test_kerberos_with_the_ticket_in_the_cache_needs_no_password(endpoint: Endpoint) -> None:
    with connect(endpoint) as host:
        host.version()
    assert endpoint.authentications == {"kerberos": 1}


@pytest.mark.usefixtures("ticket")
def test_negotiate_chooses_kerberos_when_there_is_a_ticket(endpoint: Endpoint) -> None:
    with connect(endpoint, auth="negotiate") as host:
        host.version()
    assert endpoint.authentications == {"kerberos": 1}


def test_negotiate_with_the_local_user_still_falls_back_to_ntlm(endpoint: Endpoint) -> None:
    options = endpoint.connect_options() | {"auth": "negotiate"}
    with ddperm.connect(**options, retry=NO_RETRY) as host:
        host.version()
    assert endpoint.authentications == {"ntlm": 1}


def test_the_kerberos_scheme_seals_with_the_kerberos_protocol(keytab: Path, user: str) -> None:
    """A service whose Negotiate auth is off offers only Kerberos (MS-WSMV 2.2.9.1.2)."""
    with serve(FakeHost(), auth="kerberos", keytab=keytab, schemes=("kerberos",)) as endpoint:
        with connect(endpoint, username=user, password=PASSWORD) as host:
            host.version()
        assert endpoint.authentications == {"kerberos": 1}
        assert endpoint.encrypted_requests >= 3


def test_destructive_call_after_an_idle_close_runs_once_with_kerberos(
    keytab: Path, user: str
) -> None:
    with serve(FakeHost(), auth="kerberos", keytab=keytab, idle_timeout=0.3) as endpoint:
        seed_docker_vm(endpoint.fake)
        with connect(endpoint, username=user, password=PASSWORD) as host:
            host.version()
            wait_until_idle_closed(endpoint)
            assert host.vm.destroy().existed is True
        assert endpoint.authentications == {"kerberos": 2}  # one per connection
        assert [name for name, _ in endpoint.fake.calls].count("vm_destroy") == 1


def test_an_expired_ticket_is_an_authentication_error_that_says_so(
    realm: Realm, endpoint: Endpoint
) -> None:
    brief = realm.add_principal("brief", PASSWORD, max_life="3 seconds")
    realm.kinit(brief, PASSWORD)
    deadline = time.monotonic() + 30
    while realm.has_valid_ticket():
        assert time.monotonic() < deadline, "the 3-second ticket never expired"
        time.sleep(0.2)
    with (
        pytest.raises(AuthenticationError, match=r"ticket of 'brief@DDPERM.TEST' has expired"),
        connect(endpoint, username=brief) as host,  # the ticket in the cache, no password
    ):
        host.version()
    assert endpoint.fake.calls == []
    realm.run(["kdestroy"], check=False)


def test_a_service_principal_the_kdc_does_not_know_is_named_in_the_error(
    endpoint: Endpoint, user: str
) -> None:
    with (
        pytest.raises(AuthenticationError, match=r"WSMAN/localhost.*not known to the KDC"),
        connect(endpoint, username=user, password=PASSWORD, negotiate_service="WSMAN") as host,
    ):
        host.version()
    assert endpoint.fake.calls == []


def test_a_service_principal_the_host_has_no_key_for_is_rejected_by_the_host(
    realm: Realm, endpoint: Endpoint, user: str
) -> None:
    realm.add_principal("host/elsewhere")  # registered, but to another machine's account
    options = {"username": user, "password": PASSWORD, "negotiate_hostname_override": "elsewhere"}
    with (
        pytest.raises(AuthenticationError, match="rejected the Kerberos ticket"),
        connect(endpoint, **options) as host,
    ):
        host.version()
    assert endpoint.fake.calls == []
    assert endpoint.authentications == {}


def test_a_wrong_password_is_refused_by_the_kdc_before_the_host_is_asked(
    endpoint: Endpoint, user: str
) -> None:
    with (
        pytest.raises(AuthenticationError, match=r"KDC rejected the password of 'ddperm@"),
        connect(endpoint, username=user, password="not-" + PASSWORD) as host,
    ):
        host.version()
    assert endpoint.fake.calls == []
    assert endpoint.authentications == {}
