"""POSIX: is a directory safe from other users, both as the path was given and as it resolves?

The service's socket and audit log live in directories that only root (or the service's
own user) may change. Checking only the resolved path is not enough: a symbolic link on
the way that another user owns can be re-pointed after the check, so every component of
the path *as given* is checked too, and a link is trusted only when a trusted user owns it.
A sticky, world-writable ancestor (such as /tmp) is fine: others cannot replace what is in
it; the directory itself must never be writable by others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ddperm.service.errors import ServiceStartError


def trusted_owners() -> set[int]:
    return {0, os.geteuid()}


def check_existing_components(path: Path) -> None:
    """Refuse ``path`` when any existing component, as given, could be swapped by another user.

    Components that do not exist yet are skipped; call again once they are created.
    """
    chain = [p for p in (Path(os.path.abspath(path)), *Path(os.path.abspath(path)).parents)]
    for index, component in enumerate(chain):
        try:
            info = component.lstat()
        except FileNotFoundError:
            continue
        _check(component, info, own=index == 0, links_allowed=True)


def check_directory(directory: Path) -> None:
    """Refuse ``directory`` unless it and every ancestor, resolved, only trusted users control."""
    resolved = Path(os.path.realpath(directory))
    for index, folder in enumerate([resolved, *resolved.parents]):
        _check(folder, folder.lstat(), own=index == 0, links_allowed=False)


def _check(path: Path, info: os.stat_result, *, own: bool, links_allowed: bool) -> None:
    if info.st_uid not in trusted_owners():
        kind = "a link" if stat.S_ISLNK(info.st_mode) else "owned"
        raise ServiceStartError(f"{path} is {kind} by uid {info.st_uid}, not root; refusing it")
    if stat.S_ISLNK(info.st_mode):
        if links_allowed:
            return  # a trusted user's link; where it leads is checked resolved
        raise ServiceStartError(f"{path} is not a plain directory")
    if not stat.S_ISDIR(info.st_mode):
        raise ServiceStartError(f"{path} is not a plain directory")
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable_by_others and (own or not info.st_mode & stat.S_ISVTX):
        raise ServiceStartError(f"{path} is writable by other users; cannot protect it")
