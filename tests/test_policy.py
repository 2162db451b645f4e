"""host.policy: the Registry Access Management cache fails closed, never open (CVE-2025-4095)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from ddperm.components.policy import (
    FETCHED_AT_PATTERN,
    ORGANIZATION_PATTERN,
    REGISTRY_PATTERN,
    CachedPolicy,
    RegistryPolicy,
)
from ddperm.errors import HostError, PolicyError, TransportError
from ddperm.retry import NO_RETRY
from ddperm.scripts import script_root
from ddperm.testing import FakeHost, twin_host
from ddperm.testing.fakehost import POLICY_FOLDER
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, USERS
from ddperm.testing.jobs.policy import POLICY_ACL, POLICY_FILE
from tests.backends import Backend
from tests.fixtures import REAL_WINDOWS

FETCHED = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=timezone.utc)
DEV_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
ADMIN_DOCS = REAL_WINDOWS / "docker-admin"


def policy(*registries: str, org: str = "myorg") -> RegistryPolicy:
    return RegistryPolicy(organization=org, allowed_registries=registries, fetched_at=FETCHED)


GOOD = policy("docker.io", "ghcr.io", "registry.example.com:5000")


def cached(make_backend: Callable[..., Backend], p: RegistryPolicy = GOOD) -> FakeHost:
    fake = FakeHost()
    make_backend(fake).host.policy.cache(p)
    fake.calls.clear()
    return fake


def read_error(make_backend: Callable[..., Backend], fake: FakeHost) -> HostError:
    host = make_backend(fake).host
    with pytest.raises(HostError) as caught:
        host.policy.read()
    status = host.policy.status()
    assert not status.ok
    assert status.problem == caught.value.error_id
    return caught.value


# -- the model: strict names before anything runs ----------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "*.docker.io",
        "*",
        "docker.io/library",
        "https://docker.io",
        "docker.io:0",
        "docker.io:65536",
        "docker.io:",
        "10.0.0.1",
        "10.0.0.1:5000",
        "[::1]:5000",
        "a..b",
        "-a.example",
        "a-.example",
        ".example",
        "example.",
        "docker.io\n",
        " docker.io",
        "",
        "a" * 64 + ".example",
        "evil.example;calc",
        "evil.example' ; Remove-Item C:\\ -Recurse ; '",
        "ümlaut.example",
        "reg_istry.example",
    ],
)
def test_bad_registry_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="registry"):
        policy(name)


@pytest.mark.parametrize("org", ["", "My Org", "org/evil", "-org", "o" * 41, "org\n"])
def test_bad_organization_is_refused(org: str) -> None:
    with pytest.raises(ValidationError, match="organization"):
        policy("docker.io", org=org)


def test_names_are_lowercased_and_deduplicated() -> None:
    p = policy("Docker.IO", "docker.io", "GHCR.io:443", org="MyOrg")
    assert p.allowed_registries == ("docker.io", "ghcr.io:443")
    assert p.organization == "myorg"


def test_more_than_100_registries_is_refused() -> None:
    with pytest.raises(ValidationError, match="100"):
        policy(*(f"r{i}.example" for i in range(101)))
    assert len(policy(*(f"r{i}.example" for i in range(100))).allowed_registries) == 100


def test_fetch_time_needs_a_time_zone_and_is_kept_in_utc() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        RegistryPolicy(organization="o1", allowed_registries=(), fetched_at=datetime(2026, 1, 1))
    local = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    p = RegistryPolicy(organization="o1", allowed_registries=(), fetched_at=local)
    assert p.fetched_at == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)


def test_allows_is_an_exact_allowlist_and_empty_allows_nothing() -> None:
    assert GOOD.allows("docker.io")
    assert GOOD.allows("GHCR.IO")
    assert GOOD.allows("ghcr.io:443")  # an entry without a port allows every port
    assert GOOD.allows("registry.example.com:5000")
    assert not GOOD.allows("registry.example.com:5001")
    assert not GOOD.allows("registry.example.com")
    assert not GOOD.allows("evil.docker.io")
    assert not GOOD.allows("docker.io.evil.example")
    empty = policy()
    assert not any(empty.allows(r) for r in ("docker.io", "ghcr.io", "", "*"))


def test_patterns_equal_the_host_side_ones() -> None:
    text = (script_root() / "lib" / "Policy.ps1").read_text()
    for var, python in (
        ("DdpermRegistryPattern", REGISTRY_PATTERN),
        ("DdpermOrganizationPattern", ORGANIZATION_PATTERN),
        ("DdpermFetchedAtPattern", FETCHED_AT_PATTERN),
    ):
        found = re.search(rf"^\${var} = '([^']*)'$", text, re.MULTILINE)
        assert found is not None, var
        assert found[1].replace("\\z", "\\Z") == python


def test_docs_examples_are_accepted() -> None:
    """Organizations from the docs' registry.json, hosts from the RAM docs' examples, and the
    blocked registry of the docs' error text is refused by an allowlist without it."""
    orgs = json.loads((ADMIN_DOCS / "registry.json.allowedOrgs.docs.json").read_text())
    blocked = (ADMIN_DOCS / "ram-blocked-registry-pull-error.docs.txt").read_text()
    host = re.search(r"registry access to (\S+) is not allowed", blocked)
    assert host is not None
    for org in orgs["allowedOrgs"]:
        p = policy("docker.io", "registry-1.docker.io", "ghcr.io", "public.ecr.aws", org=org)
        assert p.organization == org
        assert p.allows("public.ecr.aws")
        assert not p.allows(host[1])
    assert policy(host[1]).allows(host[1])


# -- cache and read -------------------------------------------------------------------


def test_cache_then_read_round_trips_with_protected_acl(backend: Backend) -> None:
    assert backend.fake is not None
    stored = backend.host.policy.cache(GOOD)
    read = backend.host.policy.read()
    assert read == stored
    assert read.allowed_registries == GOOD.allowed_registries
    assert read.fetched_at == FETCHED
    assert read.organization == "myorg"
    assert len(read.sha256) == 64
    fs = backend.fake.fs
    for path in (POLICY_FOLDER, POLICY_FILE):
        assert fs.protected(path)
        assert fs.explicit_acl(path) == {
            SYSTEM: "FullControl",
            ADMINISTRATORS: "FullControl",
            USERS: "ReadAndExecute, Synchronize",  # what .NET stores for ReadAndExecute
        }
        assert fs.owner(path) == ADMINISTRATORS
    assert fs.listdir(POLICY_FOLDER) == ["registry-access-policy.json"]
    status = backend.host.policy.status()
    assert status.ok
    assert (status.registries, status.organization, status.sha256) == (3, "myorg", read.sha256)


def test_empty_allowlist_is_cached_and_allows_nothing(backend: Backend) -> None:
    backend.host.policy.cache(policy())
    read = backend.host.policy.read()
    assert read.allowed_registries == ()
    assert not read.allows("docker.io")


def test_update_replaces_the_cache(make_backend: Callable[..., Backend]) -> None:
    fake = cached(make_backend)
    host = make_backend(fake).host
    host.policy.cache(policy("quay.io"))
    assert host.policy.read().allowed_registries == ("quay.io",)
    assert fake.fs.listdir(POLICY_FOLDER) == ["registry-access-policy.json"]


# In-process only: see the power-cut note in test_hosts_file.py.
@pytest.mark.parametrize("cut_after", [0, 1], ids=["during-temp-write", "during-replace"])
def test_power_cut_during_update_keeps_the_old_policy(cut_after: int) -> None:
    fake = FakeHost()
    twin_host(fake).policy.cache(GOOD)
    fake.fs.power_cut_after(cut_after)
    with pytest.raises(TransportError):
        twin_host(fake, retry=NO_RETRY).policy.cache(policy("quay.io"))
    assert twin_host(fake).policy.read().allowed_registries == GOOD.allowed_registries


def test_missing_cache_fails_closed(make_backend: Callable[..., Backend]) -> None:
    """CVE-2025-4095: no policy must never read as 'no restriction'."""
    fake = FakeHost()
    error = read_error(make_backend, fake)
    assert error.error_id == "DdpermPolicyMissing"
    assert "denied" in error.message


def _rewrite(fake: FakeHost, change: Callable[[dict[str, object]], None]) -> None:
    """Edit the cached document in place (its ACL and owner stay as they are)."""
    document = json.loads(fake.fs.read_bytes(POLICY_FILE))
    change(document)
    fake.fs.write_bytes(POLICY_FILE, json.dumps(document).encode())


def test_tampered_policy_fails_closed(make_backend: Callable[..., Backend]) -> None:
    fake = cached(make_backend)

    def widen(document: dict[str, object]) -> None:
        inner = json.loads(str(document["policy"]))
        inner["allowed_registries"].append("evil.example")
        document["policy"] = json.dumps(inner)

    _rewrite(fake, widen)
    assert read_error(make_backend, fake).error_id == "DdpermPolicyTampered"


@pytest.mark.parametrize(
    "registries",
    [
        ["*"],
        ["*.docker.io"],
        [{"host": "docker.io"}],
        "docker.io",
        None,
        ["a.example", "a.example"],
    ],
)
def test_rehashed_policy_with_bad_fields_is_invalid(
    make_backend: Callable[..., Backend], registries: object
) -> None:
    """Even with a matching hash (written by someone with admin rights), bad content fails."""
    fake = cached(make_backend)

    def rewrite(document: dict[str, object]) -> None:
        inner = {
            "organization": "myorg",
            "allowed_registries": registries,
            "fetched_at": "2026-01-01T00:00:00Z",
        }
        text = json.dumps(inner)
        document["policy"] = text
        document["sha256"] = hashlib.sha256(text.encode()).hexdigest()

    _rewrite(fake, rewrite)
    assert read_error(make_backend, fake).error_id == "DdpermPolicyInvalid"


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b'{"format":2,"sha256":"","policy":""}', b"\xff\xfe{\x00", b"null"],
)
def test_unreadable_cache_fails_closed(make_backend: Callable[..., Backend], data: bytes) -> None:
    fake = cached(make_backend)
    fake.fs.write_bytes(POLICY_FILE, data)
    assert read_error(make_backend, fake).error_id == "DdpermPolicyUnreadable"


def test_locked_cache_fails_closed(make_backend: Callable[..., Backend]) -> None:
    fake = cached(make_backend)
    fake.fs.file_data(POLICY_FILE).locked = True
    assert read_error(make_backend, fake).error_id == "DdpermPolicyUnreadable"
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(policy("quay.io"))
    assert caught.value.error_id == "DdpermPolicyLocked"
    fake.fs.file_data(POLICY_FILE).locked = False
    assert make_backend(fake).host.policy.read().allowed_registries == GOOD.allowed_registries


@pytest.mark.parametrize(
    "acl",
    [
        {**POLICY_ACL, USERS: "Modify"},
        {**POLICY_ACL, DEV_SID: "FullControl"},
        None,  # inherits: inheritance must be off
    ],
)
def test_wrong_file_acl_fails_closed_and_an_update_repairs_it(
    make_backend: Callable[..., Backend], acl: dict[str, str] | None
) -> None:
    fake = cached(make_backend)
    fake.fs.set_acl(POLICY_FILE, acl)
    assert read_error(make_backend, fake).error_id == "DdpermPolicyUntrusted"
    make_backend(fake).host.policy.cache(GOOD)
    assert fake.fs.explicit_acl(POLICY_FILE) == POLICY_ACL
    assert make_backend(fake).host.policy.read().organization == "myorg"


@pytest.mark.parametrize(
    "acl",
    [
        {**POLICY_ACL, USERS: "Modify"},
        None,  # inherits ProgramData's: every user may create files in it
        "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;GW;;;BU)",  # generic write
        "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;0x1301bf;;;BU)",  # inherit-only
    ],
)
def test_a_folder_with_another_acl_fails_closed_and_is_not_adopted(
    make_backend: Callable[..., Backend], acl: dict[str, str] | str | None
) -> None:
    """Whoever could write to the folder may have planted something or hold a handle:
    ddperm does not re-ACL it and carry on, it refuses until the folder is deleted."""
    fake = cached(make_backend)
    fake.fs.set_acl(POLICY_FOLDER, acl)
    assert read_error(make_backend, fake).error_id == "DdpermPolicyUntrusted"
    before = fake.fs.sddl(POLICY_FOLDER), fake.fs.read_bytes(POLICY_FILE)
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(policy("quay.io"))
    assert caught.value.error_id == "DdpermPolicyUntrusted"
    assert (fake.fs.sddl(POLICY_FOLDER), fake.fs.read_bytes(POLICY_FILE)) == before


def test_a_folder_an_administrator_made_by_hand_is_refused(
    make_backend: Callable[..., Backend],
) -> None:
    """Owned by Administrators but with ProgramData's inherited ACL (Users may add files)."""
    fake = FakeHost()
    fake.fs.mkdir(POLICY_FOLDER)
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(GOOD)
    assert caught.value.error_id == "DdpermPolicyUntrusted"
    assert fake.fs.listdir(POLICY_FOLDER) == []
    assert not fake.fs.protected(POLICY_FOLDER)


def test_a_user_racing_the_first_cache_can_plant_nothing(twin: Backend) -> None:
    """The folder exists with its protected ACL from the start: no moment in which a user,
    allowed to add files to ProgramData's children, could put a link where ddperm writes."""
    fake = twin.fake
    assert fake is not None
    victim = r"C:\Windows\System32\drivers\etc\hosts"
    before = fake.fs.read_bytes(victim)
    user = {DEV_SID, USERS, "S-1-5-11"}
    make_folder = fake.fs.mkdir
    planted: list[str] = []

    def then_the_user(path: str, **kwargs: object) -> None:
        make_folder(path, **kwargs)  # type: ignore[arg-type]
        fake.fs.mkdir = make_folder  # type: ignore[method-assign]
        if path == POLICY_FOLDER and fake.fs.access(path, user) & 0x2:  # FILE_ADD_FILE
            for name in ("registry-access-policy.json.tmp", "registry-access-policy.json"):
                fake.fs.hardlink(POLICY_FOLDER + "\\" + name, victim)
                planted.append(name)

    fake.fs.mkdir = then_the_user  # type: ignore[method-assign]
    twin.host.policy.cache(GOOD)
    assert planted == []
    assert fake.fs.read_bytes(victim) == before
    assert twin.host.policy.read().organization == "myorg"


@pytest.mark.parametrize("path", [POLICY_FILE, POLICY_FOLDER])
def test_owner_not_admin_fails_closed(make_backend: Callable[..., Backend], path: str) -> None:
    fake = cached(make_backend)
    fake.fs.set_owner(path, DEV_SID)  # an owner can rewrite the ACL at will
    assert read_error(make_backend, fake).error_id == "DdpermPolicyUntrusted"


def test_folder_precreated_by_the_developer_is_refused(
    make_backend: Callable[..., Backend],
) -> None:
    fake = FakeHost()
    fake.fs.mkdir(POLICY_FOLDER)
    fake.fs.set_owner(POLICY_FOLDER, DEV_SID)  # CVE-2025-3224 pattern
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(GOOD)
    assert caught.value.error_id == "DdpermPolicyUntrusted"
    assert fake.fs.listdir(POLICY_FOLDER) == []
    assert not fake.fs.protected(POLICY_FOLDER)
    assert DEV_SID in fake.fs.acl(POLICY_FOLDER)  # CREATOR OWNER: full control for them


def test_folder_that_is_a_junction_is_refused(make_backend: Callable[..., Backend]) -> None:
    fake = FakeHost()
    target = r"C:\Users\dev\bait"
    fake.fs.mkdir(target)
    fake.fs.junction(POLICY_FOLDER, target)
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(GOOD)
    assert caught.value.error_id == "DdpermPolicyUntrusted"
    assert fake.fs.listdir(target) == []


def test_not_elevated_cannot_cache(make_backend: Callable[..., Backend]) -> None:
    fake = FakeHost()
    fake.caller.elevated = False
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(GOOD)
    assert caught.value.error_id == "DdpermPolicyAccessDenied"
    assert not fake.fs.exists(POLICY_FOLDER)


def test_developer_cannot_replace_an_existing_cache(make_backend: Callable[..., Backend]) -> None:
    fake = cached(make_backend)
    before = fake.fs.read_bytes(POLICY_FILE)
    fake.caller.elevated = False
    with pytest.raises(HostError) as caught:
        make_backend(fake).host.policy.cache(policy("evil.example"))
    assert caught.value.error_id == "DdpermPolicyAccessDenied"
    assert fake.fs.read_bytes(POLICY_FILE) == before
    # ...but can still read it.
    assert make_backend(fake).host.policy.read().organization == "myorg"


# -- refused input never reaches the host ----------------------------------------------


@pytest.mark.parametrize("registry", ["*.evil.example", "evil.example\n", "10.0.0.1"])
def test_unvalidated_model_is_refused_before_anything_runs(backend: Backend, registry: str) -> None:
    assert backend.fake is not None
    sneaky = RegistryPolicy.model_construct(
        organization="myorg", allowed_registries=(registry,), fetched_at=FETCHED
    )
    with pytest.raises(PolicyError, match="registry"):
        backend.host.policy.cache(sneaky)
    assert backend.fake.calls == []


@pytest.mark.parametrize(
    "params",
    [
        {
            "Organization": "myorg",
            "AllowedRegistries": ["*.evil.example"],
            "FetchedAt": "2026-01-01T00:00:00Z",
        },
        {
            "Organization": "myorg",
            "AllowedRegistries": ["a.example", "a.example"],
            "FetchedAt": "2026-01-01T00:00:00Z",
        },
        {"Organization": "My Org", "AllowedRegistries": [], "FetchedAt": "2026-01-01T00:00:00Z"},
        {"Organization": "myorg", "AllowedRegistries": [], "FetchedAt": "yesterday"},
        {
            "Organization": "myorg",
            "AllowedRegistries": [f"r{i}.example" for i in range(101)],
            "FetchedAt": "2026-01-01T00:00:00Z",
        },
    ],
)
def test_cache_script_revalidates_on_the_host(backend: Backend, params: dict[str, object]) -> None:
    """Defence in depth: the script refuses bad fields even if the Python side is bypassed."""
    assert backend.fake is not None
    with pytest.raises(HostError) as caught:
        backend.host.executor.call("policy_cache", CachedPolicy, params)  # type: ignore[arg-type]
    assert caught.value.error_id == "DdpermPolicyInvalid"
    assert not backend.fake.fs.exists(POLICY_FOLDER)


@pytest.mark.parametrize(
    ("params", "error_id"),
    [
        (
            {"Organization": "", "AllowedRegistries": [], "FetchedAt": "2026-01-01T00:00:00Z"},
            "EmptyStringNotAllowed",
        ),
        (
            {
                "Organization": "o1",
                "AllowedRegistries": ["a.example", ""],
                "FetchedAt": "2026-01-01T00:00:00Z",
            },
            "EmptyStringNotAllowed",
        ),
        (
            {"Organization": "o1", "AllowedRegistries": None, "FetchedAt": "2026-01-01T00:00:00Z"},
            "NullNotAllowed",
        ),
        ({"Organization": "o1", "AllowedRegistries": [], "FetchedAt": ""}, "EmptyStringNotAllowed"),
    ],
)
def test_cache_script_binding_refuses_empty_values(
    backend: Backend, params: dict[str, object], error_id: str
) -> None:
    assert backend.fake is not None
    with pytest.raises(HostError) as caught:
        backend.host.executor.call("policy_cache", CachedPolicy, params)  # type: ignore[arg-type]
    assert caught.value.error_id == f"ParameterArgumentValidationError{error_id}"
    assert not backend.fake.fs.exists(POLICY_FOLDER)
