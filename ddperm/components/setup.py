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

from pydantic import Field

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
    """One feature before and after enabling it."""

    name: str = Field(description="The feature name as asked for.")
    before: FeatureState = Field(description="DISM's state before.")
    after: FeatureState = Field(description="DISM's state after (EnablePending until restart).")


class FeaturesEnabled(HostModel):
    """What ``enable_features`` did."""

    features: tuple[FeatureChange, ...] = Field(description="One entry per requested feature.")
    restart_needed: bool = Field(description="A restart is needed to finish the change.")

    @property
    def changed(self) -> bool:
        """True when any feature's state changed."""
        return any(f.before != f.after for f in self.features)


class LaunchChange(HostModel):
    """What ``enable_hypervisor_launch`` did."""

    before: LaunchType = Field(description="hypervisorlaunchtype before.")
    after: LaunchType = Field(description="hypervisorlaunchtype after (Auto).")
    changed: bool = Field(description="False when it already was Auto.")
    restart_needed: bool = Field(description="A restart is needed for it to take effect.")


class AccountMembership(HostModel):
    """One account asked about: its SID (None when Windows cannot resolve the name)."""

    name: str = Field(description="The account name as asked for.")
    sid: str | None = Field(description="The account's SID; None when Windows cannot resolve it.")
    member: bool = Field(description="Whether the account is a member of docker-users.")


class DockerUsers(HostModel):
    """The docker-users group and the accounts asked about (never the whole member list)."""

    exists: bool = Field(description="Whether the docker-users local group exists.")
    sid: str | None = Field(description="The group's SID; None when it does not exist.")
    members: tuple[AccountMembership, ...] = Field(
        description="One entry per account asked about, in the order asked."
    )


class MembershipChange(HostModel):
    """What ``add_docker_user`` did."""

    group_created: bool = Field(description="Whether docker-users had to be created.")
    member_added: bool = Field(description="False when the account already was a member.")
    member_sid: str = Field(description="The account's SID.")
    group: DockerUsers = Field(description="The group and the account, after the change.")


class BootState(HostModel):
    """When Windows last started, and what the session may do."""

    last_boot: datetime = Field(description="LastBootUpTime, in UTC.")
    restart_pending: bool = Field(description="A feature change waits for a restart.")
    elevated: bool = Field(description="The session's token holds Administrators (S-1-5-32-544).")


class RestartScheduled(HostModel):
    """A restart that Windows will carry out shortly."""

    scheduled: bool = Field(description="Always True (a refusal raises HostError).")
    last_boot: datetime = Field(
        description="LastBootUpTime before the restart: a later one shows it happened."
    )
    delay_seconds: int = Field(description="Seconds until Windows restarts.")


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
    """``host.setup``: the write side of provisioning (used by ``ddperm.provision``)."""

    def enable_features(self, names: Iterable[str]) -> FeaturesEnabled:
        """Enable each feature (and its parents) without restarting (needs elevation).

        Args:
            names: exact feature names (1 to 32; letters, digits, '-', '_', '.').

        Returns:
            Each feature before and after, and whether a restart is needed.

        Raises:
            PolicyError: a name is not a feature name, there are not 1 to 32, or the
                script fails its SHA-256 pin; nothing ran.
            HostError: ``DdpermFeatureAbsent`` (nothing enabled), or DISM refused (e.g.
                not elevated).
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``FeaturesEnabled``.
        """
        params = {"FeatureName": validate_feature_names(names)}
        return self._executor.call("features_enable", FeaturesEnabled, params)

    def enable_hypervisor_launch(self) -> LaunchChange:
        """Set hypervisorlaunchtype of {current} to Auto (needs elevation and a restart).

        Returns:
            The launch type before and after, and whether a restart is needed.

        Raises:
            HostError: not elevated (the BCD provider's access-denied error),
                ``DdpermBcdStoreUnavailable``, ``DdpermBcdObjectUnavailable``,
                ``DdpermBcdElementUnreadable``, ``DdpermBcdSetFailed``.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``LaunchChange``.
        """
        return self._executor.call("bootloader_enable", LaunchChange)

    def docker_users(self, members: Iterable[str]) -> DockerUsers:
        """Whether docker-users exists and, for each account named, whether it is a member.

        Args:
            members: 1 to 32 account names: 'user', 'COMPUTER\\user' or 'DOMAIN\\user'.

        Returns:
            The group and one entry per account asked about.

        Raises:
            PolicyError: a name is not an account name, there are not 1 to 32, or the
                script fails its SHA-256 pin; nothing ran.
            HostError: the host could not read the group.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``DockerUsers``.
        """
        names = [check_member(m) for m in members]
        if not 1 <= len(names) <= 32:
            raise PolicyError(f"ask about 1 to 32 accounts, not {len(names)}")
        return self._executor.call("docker_users_status", DockerUsers, {"Member": names})

    def add_docker_user(self, member: str) -> MembershipChange:
        """Make ``member`` a docker-users member, creating the group if missing.

        Args:
            member: 'user', 'COMPUTER\\user' or 'DOMAIN\\user' (no wildcards).

        Returns:
            Whether the group was created and the member added, and the group after.

        Raises:
            PolicyError: ``member`` is not an account name, or the script fails its
                SHA-256 pin; nothing ran.
            HostError: ``IdentityNotMappedException`` (Windows cannot resolve the account
                name), or Windows refused to change the group (e.g. not elevated).
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``MembershipChange``.
        """
        params = {"Member": check_member(member)}
        return self._executor.call("docker_users_add", MembershipChange, params)

    def boot_state(self) -> BootState:
        """When Windows last started, whether a restart is pending, and elevation.

        Returns:
            The boot time (UTC), ``restart_pending`` and ``elevated``.

        Raises:
            HostError: the host could not read Win32_OperatingSystem.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``BootState``.
        """
        return self._executor.call("boot_state", BootState)

    def restart(self, *, delay_seconds: int = 10) -> RestartScheduled:
        """Schedule a restart of Windows in ``delay_seconds`` (5 to 600).

        Args:
            delay_seconds: seconds before Windows restarts, 5 to 600.

        Returns:
            The schedule and the boot time before the restart.

        Raises:
            PolicyError: ``delay_seconds`` is not 5 to 600, or the script fails its
                SHA-256 pin; nothing ran.
            HostError: ``DdpermRestartRefused`` (shutdown.exe refused, e.g. not elevated).
            TransportError: the host could not be reached; not retried (destructive).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``RestartScheduled``.
        """
        if isinstance(delay_seconds, bool) or not 5 <= delay_seconds <= 600:
            raise PolicyError(f"delay_seconds must be 5 to 600, not {delay_seconds!r}")
        params = {"DelaySeconds": delay_seconds}
        return self._executor.call("restart", RestartScheduled, params)
