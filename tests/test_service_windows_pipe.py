"""The named pipe's security descriptor and flags (pure functions, tested on every platform)."""

from __future__ import annotations

import re
import sys

import pytest

from ddperm.service import windows_pipe as wp

DOCKER_USERS = "S-1-5-21-1004336348-1177238915-682003330-1009"
ACE = re.compile(r"\(([AD]);([^;]*);([^;]*);;;([^)]*)\)")

# Windows SDK access masks, written out independently of the module under test.
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4  # APPEND = CREATE_PIPE_INSTANCE
DELETE, WRITE_DAC, WRITE_OWNER = 0x10000, 0x40000, 0x80000


def aces(sddl: str) -> list[tuple[str, str, str, str]]:
    assert sddl.startswith("D:P(")
    body = sddl[3:]
    found = ACE.findall(body)
    assert "".join(f"({t};{f};{r};;;{s})" for t, f, r, s in found) == body
    return found


def test_the_dacl_is_explicit_protected_and_names_only_system_admins_and_the_group() -> None:
    entries = aces(wp.pipe_sddl(DOCKER_USERS))
    assert entries == [
        ("D", "", "GA", "NU"),
        ("A", "", "GA", "SY"),
        ("A", "", "GA", "BA"),
        ("A", "", "0x0012019b", DOCKER_USERS),
    ]
    trustees = {sid for _, _, _, sid in entries}
    assert not trustees & {"WD", "AN", "AU", "IU", "BU", "S-1-1-0", "S-1-5-7"}


def test_the_group_may_read_and_write_but_not_create_instances_or_change_the_dacl() -> None:
    rights = int(aces(wp.pipe_sddl(DOCKER_USERS))[-1][2], 16)
    assert rights & FILE_READ_DATA
    assert rights & FILE_WRITE_DATA
    for forbidden in (FILE_APPEND_DATA, DELETE, WRITE_DAC, WRITE_OWNER):
        assert not rights & forbidden


@pytest.mark.parametrize(
    "sid",
    [
        "",
        "docker-users",
        "S-1-1-0",  # Everyone
        "S-1-5-32-544",  # Administrators: would make the group ACE meaningless
        "S-1-5-18",
        f"{DOCKER_USERS})(A;;GA;;;WD",  # SDDL injection
        f"{DOCKER_USERS}\n",
    ],
)
def test_a_bad_group_sid_is_refused(sid: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(sid)) + "|dedicated group"):
        wp.pipe_sddl(sid)


def test_only_the_first_instance_is_created_with_the_squatting_guard() -> None:
    assert wp.server_open_mode(first=True) & wp.FILE_FLAG_FIRST_PIPE_INSTANCE == 0x00080000
    assert not wp.server_open_mode(first=False) & wp.FILE_FLAG_FIRST_PIPE_INSTANCE
    assert wp.server_open_mode(first=True) & 0x3 == 0x3  # PIPE_ACCESS_DUPLEX


def test_remote_clients_are_rejected_by_the_pipe_mode() -> None:
    assert wp.server_pipe_mode() & 0x8  # PIPE_REJECT_REMOTE_CLIENTS


def test_the_client_lets_a_server_identify_it_but_never_impersonate_it() -> None:
    flags = wp.client_open_flags()
    assert flags & 0x00100000  # SECURITY_SQOS_PRESENT
    assert flags & 0x000F0000 == 0x00010000  # SecurityIdentification, not Impersonation


@pytest.mark.skipif(sys.platform != "win32", reason="pywin32 parses SDDL only on Windows")
def test_windows_accepts_the_descriptor() -> None:  # pragma: no cover - Windows only
    import win32security

    sddl = wp.pipe_sddl(DOCKER_USERS)
    descriptor = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
        sddl, win32security.SDDL_REVISION_1
    )
    assert descriptor.GetSecurityDescriptorDacl() is not None
