"""Install-time administration of the service group (docker-users): add, remove, list.

Changing membership is for administrators only (root, or an elevated
Administrator on Windows); the user and group names are validated before any
tool runs, and the tools get them as separate arguments, never as command text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from pydantic import BaseModel, ConfigDict

from ddperm.errors import DdpermError, PolicyError

# POSIX portable user and group names; Windows names additionally allow DOMAIN\ and spaces.
_POSIX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_WINDOWS_NAME = re.compile(r"^([A-Za-z0-9._-]{1,15}\\)?[A-Za-z0-9 ._-]{1,20}$")


_NERR_GROUP_EXISTS = 2223  # lmerr.h: NERR_GroupExists (ERROR_ALIAS_EXISTS 1379 for aliases)
_ERROR_ALIAS_EXISTS = 1379
_NERR_GROUP_NOT_FOUND = 2220


class GroupMembers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    members: list[str]


def check_name(name: str, what: str) -> str:
    pattern = _WINDOWS_NAME if sys.platform == "win32" else _POSIX_NAME
    if not pattern.fullmatch(name):
        raise PolicyError(f"not a valid {what} name: {name!r}")
    return name


def is_admin() -> bool:
    if sys.platform == "win32":
        import win32security

        administrators = win32security.ConvertStringSidToSid("S-1-5-32-544")
        # None: the calling thread's token (pywin32 docs; the stubs say int).
        return bool(win32security.CheckTokenMembership(None, administrators))  # type: ignore[arg-type]
    return os.geteuid() == 0


def _require_admin(action: str) -> None:
    if not is_admin():
        raise PolicyError(f"only an administrator may {action}; nothing was changed")


def members(group: str) -> GroupMembers:
    """Who is in ``group`` (on POSIX: listed members plus users whose primary group it is)."""
    check_name(group, "group")
    if sys.platform == "win32":
        import win32net

        entries, _total, _resume = win32net.NetLocalGroupGetMembers(None, group, 3)
        return GroupMembers(group=group, members=sorted(e["domainandname"] for e in entries))
    import grp
    import pwd

    try:
        entry = grp.getgrnam(group)
    except KeyError:
        raise PolicyError(f"group {group!r} does not exist") from None
    primary = {p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid}
    return GroupMembers(group=group, members=sorted(set(entry.gr_mem) | primary))


def create_group(group: str) -> bool:
    """Create ``group`` unless it exists (administrators only); True when it was created."""
    check_name(group, "group")
    _require_admin(f"create the group {group}")
    if sys.platform == "win32":
        import pywintypes
        import win32net

        try:
            win32net.NetLocalGroupAdd(None, 1, {"name": group, "comment": "ddperm service users"})
        except pywintypes.error as exc:
            if exc.winerror in (_NERR_GROUP_EXISTS, _ERROR_ALIAS_EXISTS):
                return False
            raise DdpermError(f"cannot create the group {group}: {exc.strerror}") from exc
        return True
    import grp

    try:
        grp.getgrnam(group)
        return False
    except KeyError:
        pass
    done = subprocess.run(["groupadd", group], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DdpermError(f"groupadd {group} failed: {done.stderr.strip()}")
    return True


def delete_group(group: str) -> None:
    """Delete ``group`` if it exists (administrators only)."""
    check_name(group, "group")
    _require_admin(f"delete the group {group}")
    if sys.platform == "win32":
        import pywintypes
        import win32net

        try:
            win32net.NetLocalGroupDel(None, group)
        except pywintypes.error as exc:
            if exc.winerror != _NERR_GROUP_NOT_FOUND:
                raise DdpermError(f"cannot delete the group {group}: {exc.strerror}") from exc
        return
    done = subprocess.run(["groupdel", group], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 6):  # 6: the group does not exist
        raise DdpermError(f"groupdel {group} failed: {done.stderr.strip()}")


def add_member(user: str, group: str) -> GroupMembers:
    """Add ``user`` to ``group`` (idempotent); administrators only."""
    return _change(user, group, add=True)


def remove_member(user: str, group: str) -> GroupMembers:
    """Remove ``user`` from ``group`` (idempotent); administrators only."""
    return _change(user, group, add=False)


def _change(user: str, group: str, *, add: bool) -> GroupMembers:
    check_name(user, "user")
    current = members(group)
    _require_admin(f"change the members of {group}")
    if sys.platform == "win32":
        import win32net

        if add and user not in current.members:
            member = [{"domainandname": user}]  # pywin32 takes a list of dicts (stubs: tuple)
            win32net.NetLocalGroupAddMembers(None, group, 3, member)  # type: ignore[arg-type]
        elif not add and user in current.members:
            win32net.NetLocalGroupDelMembers(None, group, [user])  # type: ignore[arg-type]
        return members(group)
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        raise PolicyError(f"user {user!r} does not exist") from None
    if add != (user in current.members):
        flag = "-a" if add else "-d"
        done = subprocess.run(
            ["gpasswd", flag, user, group], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DdpermError(f"gpasswd {flag} {user} {group} failed: {done.stderr.strip()}")
    return members(group)
