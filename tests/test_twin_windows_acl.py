"""The twin's NTFS ACLs and PowerShell editions against what real Windows shows.

Every expected value here is a real capture or a documented fact (docs/windows-behaviour.md,
"File system, ACLs and the policy cache" and "PowerShell editions"), not the twin's output.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ddperm.testing import FakeHost
from ddperm.testing.acl import (
    AUTHENTICATED_USERS,
    CREATOR_OWNER,
    TRUSTED_INSTALLER,
    Ace,
    Inherit,
    parse_sddl,
    rights_name,
)
from ddperm.testing.editions import (
    acl_method_missing,
    dates_parsed,
    json_net_date,
    wrapper_parameters,
)
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import DEFAULT_DATA_FOLDER, DOCKER_DESKTOP_FOLDER
from ddperm.testing.fs import ADMINISTRATORS, SYSTEM, USERS, FakeFileSystem

DEV = "S-1-5-21-1004336348-1177238915-682003330-1001"
# (Get-Acl C:\ProgramData).Sddl on Windows 11 and Server 2025 (several public captures).
PROGRAMDATA = (
    "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
    "(A;CI;DCLCRPCR;;;BU)"
)
ADD_FILE, ADD_SUBDIRECTORY, DELETE_CHILD, DELETE = 0x2, 0x4, 0x40, 0x10000


def test_programdata_is_the_stock_dacl_on_every_machine() -> None:
    for fake in (FakeHost(), FakeHost.fresh()):
        assert fake.fs.sddl(r"C:\ProgramData") == PROGRAMDATA.replace("G:SY", "")
        assert fake.fs.owner(r"C:\ProgramData") == SYSTEM


def test_docker_desktop_folders_exist_only_once_it_is_installed() -> None:
    assert FakeHost().fs.exists(DEFAULT_DATA_FOLDER)
    fresh = FakeHost.fresh().fs
    assert not fresh.exists(DOCKER_DESKTOP_FOLDER)
    assert fresh.listdir(r"C:\ProgramData") == []


def test_users_may_create_in_programdata_but_not_remove_what_is_there() -> None:
    """icacls: BUILTIN\\Users:(CI)(WD,AD,WEA,WA) and (OI)(CI)(RX), no DC, no DE."""
    fs = FakeHost().fs
    users = {DEV, USERS, AUTHENTICATED_USERS}
    granted = fs.access(r"C:\ProgramData", users)
    assert granted & ADD_FILE and granted & ADD_SUBDIRECTORY
    assert not granted & DELETE_CHILD
    assert not fs.access(DOCKER_DESKTOP_FOLDER, users) & (DELETE | ADD_FILE | ADD_SUBDIRECTORY)


def test_a_folder_a_user_makes_in_programdata_is_theirs_and_writable_by_all_users() -> None:
    """What a child inherits: CREATOR OWNER becomes the creator with full control, and the
    Users write ACE comes along (measured on Windows 11: Users Write inherited=True)."""
    fs = FakeHost.fresh().fs
    fs.mkdir(r"C:\ProgramData\Product")
    fs.set_owner(r"C:\ProgramData\Product", DEV)
    rules = {
        (a.sid, rights_name(a.rights), a.inherited) for a in fs.dacl(r"C:\ProgramData\Product")
    }
    assert (DEV, "FullControl", True) in rules
    assert (USERS, "Write", True) in rules
    assert (USERS, "ReadAndExecute, Synchronize", True) in rules
    assert not fs.protected(r"C:\ProgramData\Product")


def test_inheritance_under_the_system_drive_matches_icacls() -> None:
    """Azure/aks-engine#4633, a folder made in C:\\ and a file in it:
    c:\\k  Authenticated Users:(I)(M), (I)(OI)(CI)(IO)(M), SYSTEM:(I)(OI)(CI)(F), ...
    nssm.exe  Authenticated Users:(I)(M), SYSTEM:(I)(F), Users:(I)(RX), Administrators:(I)(F)"""
    fs = FakeFileSystem()
    fs.mkdir(r"C:\k")
    fs.write_bytes(r"C:\k\nssm.exe", b"MZ")
    folder = fs.dacl(r"C:\k")
    both, io = Inherit.OBJECT | Inherit.CONTAINER, Inherit.INHERIT_ONLY
    assert Ace(AUTHENTICATED_USERS, 0x1301BF, Inherit.NONE, inherited=True) in folder
    assert any(a.sid == AUTHENTICATED_USERS and a.inherit == both | io for a in folder)
    assert Ace(SYSTEM, 0x1F01FF, both, inherited=True) in folder
    assert fs.acl(r"C:\k\nssm.exe") == {
        AUTHENTICATED_USERS: "Modify, Synchronize",
        SYSTEM: "FullControl",
        ADMINISTRATORS: "FullControl",
        USERS: "ReadAndExecute, Synchronize",
    }


def test_a_protected_dacl_inherits_nothing() -> None:
    """moby's data root SDDL (D:P...) under ProgramData keeps only its own two ACEs."""
    fs = FakeHost.fresh().fs
    fs.mkdir(r"C:\ProgramData\Docker", acl="D:P(A;OICI;GA;;;BA)(A;OICI;GA;;;SY)")
    fs.write_bytes(r"C:\ProgramData\Docker\x", b"x")
    assert fs.acl(r"C:\ProgramData\Docker\x") == {
        ADMINISTRATORS: "FullControl",
        SYSTEM: "FullControl",
    }


@pytest.mark.parametrize(
    ("mask", "shown"),
    [
        (0x1200A9, "ReadAndExecute, Synchronize"),  # icacls RX
        (0x116, "Write"),  # icacls (WD,AD,WEA,WA)
        (0x1F01FF, "FullControl"),
        (0x10000000, "268435456"),  # GENERIC_ALL: (Get-Acl C:\Windows).Access, PowerShell#18896
        (0x4, "AppendData"),
        (0x2, "CreateFiles"),
    ],
)
def test_rights_print_as_filesystemrights_does(mask: int, shown: str) -> None:
    assert rights_name(mask) == shown


def test_sddl_round_trips_a_real_programdata() -> None:
    security = parse_sddl(PROGRAMDATA)
    assert security.protected and security.owner == SYSTEM
    assert security.aces[0] == Ace(
        CREATOR_OWNER, 0x10000000, Inherit.OBJECT | Inherit.CONTAINER | Inherit.INHERIT_ONLY
    )
    assert security.aces[-1] == Ace(USERS, 0x116, Inherit.CONTAINER)
    fs = FakeFileSystem()
    fs.mkdir(r"C:\ProgramData", acl=PROGRAMDATA)
    assert fs.sddl(r"C:\ProgramData") == "O:SYD:PAI" + PROGRAMDATA.split("D:PAI")[1]


def test_the_system_drive_root_is_trustedinstallers() -> None:
    assert FakeFileSystem().owner("C:\\") == TRUSTED_INSTALLER


# -- PowerShell editions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2026-11-23T09:30:15.123456Z", datetime(2026, 11, 23, 9, 30, 15, 123456, timezone.utc)),
        ("2020-05-03T15:13:01Z", datetime(2020, 5, 3, 15, 13, 1, tzinfo=timezone.utc)),  # #12565
        ("2026-01-01T12:00:00+02:00", datetime(2026, 1, 1, 10, tzinfo=timezone.utc)),
        ("2026-01-01T00:00:00", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        ("/Date(0)/", datetime(1970, 1, 1, tzinfo=timezone.utc)),
        ("2026-02-30T00:00:00Z", None),  # not a date: stays a string
        ("2026-01-01", None),  # shorter than 19 characters
        ("myorg", None),
        (" 2026-01-01T00:00:00Z", None),
    ],
)
def test_json_net_reads_iso_strings_as_dates(text: str, parsed: datetime | None) -> None:
    assert json_net_date(text) == parsed


def test_only_core_lacks_the_instance_acl_methods() -> None:
    text = "$item = New-Object System.IO.DirectoryInfo $Path\n$item.GetAccessControl('Access')"
    fake = FakeHost()
    acl_method_missing(fake, text)  # Windows PowerShell 5.1: there
    acl_method_missing(fake, "[System.IO.FileSystemAclExtensions]::GetAccessControl($i)")
    fake.edition = "Core"
    acl_method_missing(fake, "[System.IO.FileSystemAclExtensions]::GetAccessControl($i)")
    with pytest.raises(ErrorRecord) as caught:
        acl_method_missing(fake, text)
    # tfenster/dockeraccesshelper#4 (pwsh 7.0); Binders.cs throws RuntimeException
    assert caught.value.message == (
        "Method invocation failed because [System.IO.DirectoryInfo] does not contain a "
        "method named 'GetAccessControl'."
    )
    assert (caught.value.fqid, caught.value.category) == ("MethodNotFound", "InvalidOperation")


def test_the_wrapper_binds_parameters_untouched_on_desktop() -> None:
    params = {"FetchedAt": "2026-11-23T09:30:15.123456Z", "AllowedRegistries": ["docker.io"]}
    assert wrapper_parameters(FakeHost(), params) == params


def test_only_core_with_convertfrom_json_reads_dates() -> None:
    old = "$document = Microsoft.PowerShell.Utility\\ConvertFrom-Json -InputObject $text"
    new = old + "\n$document = [System.Text.Json.JsonDocument]::Parse($Text)"
    fake = FakeHost()
    assert not dates_parsed(fake, old)
    fake.edition = "Core"
    assert dates_parsed(fake, old)
    assert not dates_parsed(fake, new)
