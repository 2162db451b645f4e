"""Machine set-up for provisioning: Windows features, the boot entry, docker-users, restarts.

These are the write-side twins of the checks: ``enable_features`` leaves features
``EnablePending`` until Windows restarts, ``enable_hypervisor_launch`` takes effect at the
next start, and ``restart`` schedules one (``boot_state`` tells when it happened).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TypeGuard

from ddperm.components.base import Component
from ddperm.components.checks import FeatureState, LaunchType, validate_feature_names
from ddperm.errors import PolicyError
from ddperm.model import HostModel

# Characters no account name may hold (USER_INFO_0: " / \ [ ] : ; | = , + * ? < > and the
# controls; '@' would make it a UPN), plus invisible ones that let one name pass for another
# (C1 controls, zero-width and bidi marks, BOM) and surrogates (non-BMP characters in .NET).
_BAD = (
    r'"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F'
    r"\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF"
)
_ANY = f"[^{_BAD}]"
MEMBER_PATTERN = rf"(?:(?![. ]){_ANY}{{1,63}}(?<![. ])\\)?(?! ){_ANY}{{1,20}}(?<![. ])"
"""``user``, ``COMPUTER\\user`` or ``DOMAIN\\user``: also the scripts' ValidatePattern.

The user name has 1 to 20 characters (a SAM account name), does not start with a space
nor end with a space or a period; the domain has 1 to 63, neither end a space or a period.
No wildcard can pass (``* ? [ ]`` are refused)."""


class FeatureChange(HostModel):
    name: str
    before: FeatureState
    after: FeatureState


class FeaturesEnabled(HostModel):
    features: tuple[FeatureChange, ...]
    restart_needed: bool

    @property
    def changed(self) -> bool:
        return any(f.before != f.after for f in self.features)


class LaunchChange(HostModel):
    before: LaunchType
    after: LaunchType
    changed: bool
    restart_needed: bool


class AccountMembership(HostModel):
    """One account asked about: its SID (None when Windows cannot resolve the name)."""

    name: str
    sid: str | None
    member: bool


class DockerUsers(HostModel):
    """The docker-users group and the accounts asked about (never the whole member list)."""

    exists: bool
    sid: str | None
    members: tuple[AccountMembership, ...]


class MembershipChange(HostModel):
    group_created: bool
    member_added: bool
    member_sid: str
    group: DockerUsers


class BootState(HostModel):
    last_boot: datetime
    restart_pending: bool
    elevated: bool


class RestartScheduled(HostModel):
    scheduled: bool
    last_boot: datetime
    delay_seconds: int


def member_name_ok(member: object) -> TypeGuard[str]:
    """Whether the scripts' ValidatePattern accepts ``member`` as .NET sees it (a character
    outside the BMP is two surrogates there, which the pattern refuses)."""
    return (
        isinstance(member, str)
        and all(ord(char) <= 0xFFFF for char in member)
        and re.fullmatch(MEMBER_PATTERN, member) is not None
    )


def check_member(member: object) -> str:
    """An account name the scripts accept, or ``PolicyError`` before anything runs."""
    if not member_name_ok(member):
        raise PolicyError(
            "a docker-users member is 'user', 'COMPUTER\\user' or 'DOMAIN\\user': a user name of "
            '1 to 20 characters, a domain of 1 to 63, none of " / \\ [ ] : ; | = , + * ? < > @, '
            f"no invisible characters, not ending in a space or a period: {member!r}"
        )
    return member


class SetupComponent(Component):
    def enable_features(self, names: Iterable[str]) -> FeaturesEnabled:
        """Enable each feature (and its parents) without restarting (needs elevation)."""
        params = {"FeatureName": validate_feature_names(names)}
        return self._executor.call("features_enable", FeaturesEnabled, params)

    def enable_hypervisor_launch(self) -> LaunchChange:
        """Set hypervisorlaunchtype of {current} to Auto (needs elevation and a restart)."""
        return self._executor.call("bootloader_enable", LaunchChange)

    def docker_users(self, members: Iterable[str]) -> DockerUsers:
        """Whether docker-users exists and, for each account named, whether it is a member."""
        names = [check_member(m) for m in members]
        if not 1 <= len(names) <= 32:
            raise PolicyError(f"ask about 1 to 32 accounts, not {len(names)}")
        return self._executor.call("docker_users_status", DockerUsers, {"Member": names})

    def add_docker_user(self, member: str) -> MembershipChange:
        """Make ``member`` a docker-users member, creating the group if missing."""
        params = {"Member": check_member(member)}
        return self._executor.call("docker_users_add", MembershipChange, params)

    def boot_state(self) -> BootState:
        return self._executor.call("boot_state", BootState)

    def restart(self, *, delay_seconds: int = 10) -> RestartScheduled:
        """Schedule a restart of Windows in ``delay_seconds`` (5 to 600)."""
        if isinstance(delay_seconds, bool) or not 5 <= delay_seconds <= 600:
            raise PolicyError(f"delay_seconds must be 5 to 600, not {delay_seconds!r}")
        params = {"DelaySeconds": delay_seconds}
        return self._executor.call("restart", RestartScheduled, params)
