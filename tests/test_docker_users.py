"""host.setup.docker_users() and add_docker_user(): account names and group membership."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from ddperm.components.setup import MEMBER_PATTERN, check_member
from ddperm.errors import HostError, PolicyError
from ddperm.scripts import default_registry
from ddperm.testing import ErrorRecord, FakeHost
from tests.backends import Backend

MakeBackend = Callable[..., Backend]
JURGEN = "S-1-5-21-1004336348-1177238915-682003330-1003"
TANAKA = "S-1-5-21-3623811015-3361044348-30300820-1120"

# Real account names Windows accepts (USER_INFO_0: up to 20 characters, none of
# " / \ [ ] : ; | = , + * ? < >, no control characters, not ending in a period).
GOOD_NAMES = [
    "Jürgen",
    "DEV-PC01\\Jürgen",
    "CORP\\田中太郎",
    "ÉLODIE.MARTIN",
    "o'brien",
    "a.b-c_d e",
    "NT AUTHORITY\\NETWORK SERVICE",
    "x" * 20,
    "ДОМЕН\\иван",
    ".hidden",
]
BAD_NAMES = [
    "",
    "x" * 21,  # longer than a SAM account name
    "name.",  # ends in a period
    " lead",
    "trail ",
    "...",
    "a@b",  # a UPN, not DOMAIN\\user
    "a;b",
    "a,b",
    "a+b",
    "a=b",
    "a|b",
    'a"b',
    "a/b",
    "A\\B\\C",
    "\\user",
    "DOMAIN\\",
    "*",
    "dev?",
    "dev[1]",
    "DOMAIN\\*",
    "tab\tname",
    "nul\x00",
    "zero\u200bwidth",  # an invisible character: one name looking like another
    "rtl\u202eoverride",
    "emoji\U0001f600",  # outside the BMP: a surrogate pair in .NET
    "d" * 64 + "\\user",  # domain part longer than 63
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_real_account_names_are_accepted(name: str) -> None:
    assert check_member(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_windows_refuses_or_that_could_mislead_are_refused(name: str) -> None:
    with pytest.raises(PolicyError):
        check_member(name)


def test_the_scripts_validate_pattern_is_the_python_pattern() -> None:
    expected = f"^{MEMBER_PATTERN}\\z"
    for name in ("docker_users_status", "docker_users_add"):
        text = default_registry().get(name).text
        assert re.findall(r"\[ValidatePattern\('([^']*)'\)\]", text) == [expected]


def _with_unicode_accounts() -> FakeHost:
    fake = FakeHost()
    fake.accounts["DEV-PC01\\Jürgen"] = JURGEN
    fake.accounts["CORP\\田中太郎"] = TANAKA
    return fake


def test_a_unicode_account_is_added_and_reported(make_backend: MakeBackend) -> None:
    fake = _with_unicode_accounts()
    backend = make_backend(fake)
    change = backend.host.setup.add_docker_user("Jürgen")
    assert change.member_added
    assert change.member_sid == JURGEN
    status = backend.host.setup.docker_users(["Jürgen", "CORP\\田中太郎"])
    assert [(a.name, a.sid, a.member) for a in status.members] == [
        ("Jürgen", JURGEN, True),
        ("CORP\\田中太郎", TANAKA, False),
    ]


def test_the_host_refuses_a_bad_name_even_when_python_is_skipped(twin: Backend) -> None:
    assert twin.fake is not None
    with pytest.raises(ErrorRecord) as caught:
        twin.fake.execute("docker_users_add", {"Member": "emoji\U0001f600"})
    assert caught.value.fqid == "ParameterArgumentValidationError,docker_users_add"
    assert len(twin.fake.groups["docker-users"].members) == 1


ORPHAN = "S-1-5-21-1004336348-1177238915-682003330-1099"  # a deleted account: no name
AZURE_AD = "S-1-12-1-3521873466-1117838734-2453946761-1815390412"  # Windows cannot name it


@pytest.mark.parametrize("unnamed", [ORPHAN, AZURE_AD])
def test_a_member_windows_cannot_name_does_not_hide_the_others(
    make_backend: MakeBackend, unnamed: str
) -> None:
    # Get-LocalGroupMember -Member <SID> still resolves every member in group order and
    # fails on one without a name (PowerShell #2996); with -ErrorAction SilentlyContinue a
    # real member came back as not a member, and the add then failed with MemberExists.
    fake = FakeHost()
    fake.groups["docker-users"].members.insert(0, unnamed)
    backend = make_backend(fake)
    status = backend.host.setup.docker_users(["dev", "alice"])
    assert [(a.name, a.member) for a in status.members] == [("dev", True), ("alice", False)]
    change = backend.host.setup.add_docker_user("dev")
    assert (change.group_created, change.member_added) == (False, False)
    assert change.group.members[0].member
    assert fake.groups["docker-users"].members == [unnamed, "DEV-PC01\\dev"]


def test_adding_without_elevation_is_the_modules_access_denied(make_backend: MakeBackend) -> None:
    fake = FakeHost()
    fake.caller.elevated = False
    backend = make_backend(fake)
    with pytest.raises(HostError) as caught:
        backend.host.setup.add_docker_user("alice")
    # LocalAccountsException.ErrorName: the type name without "Exception" (5.1 source)
    assert caught.value.fully_qualified_error_id == (
        "AccessDenied,Microsoft.PowerShell.Commands.AddLocalGroupMemberCommand"
    )
    assert caught.value.category == "PermissionDenied"
    assert fake.groups["docker-users"].members == ["DEV-PC01\\dev"]
