"""The Registry Access Management policy cache: readable by developers, changeable only by admins.

``cache(policy)`` stores the allowed registries, the organization and the fetch
time under ``C:\\ProgramData\\ddperm`` with a SHA-256 over the exact policy text and
an explicit, protected ACL (SYSTEM and Administrators full control, Users read);
an update replaces the file atomically. ``read()`` checks owner, ACL and hash
and fails closed with ``HostError`` (DdpermPolicyMissing, -Untrusted, -Unreadable,
-Tampered, -Invalid): a broken cache never reads as "allow everything"
(CVE-2025-4095). An empty allowlist allows nothing.

Registry names are host names with an optional port, lowercase, no wildcards and
no IP addresses: Docker's docs say RAM filters at the DNS level and takes "any
hostname or domain name"; they describe no wildcard form.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator

from ddperm.components.base import Component
from ddperm.errors import PolicyError
from ddperm.model import HostModel

# The same patterns as lib/Policy.ps1 (.NET's \z is Python's \Z; a test compares them).
REGISTRY_PATTERN = (
    r"^(?![0-9.]+(:|\Z))(?=[^:]{1,253}(:|\Z))[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
    r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\Z"
)
ORGANIZATION_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?\Z"
FETCHED_AT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z\Z"
MAX_REGISTRIES = 100


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _matches(pattern: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not re.match(pattern, value):
            raise ValueError(f"not a valid {what}: {value!r}")
        return value

    return AfterValidator(check)


Registry = Annotated[
    str, BeforeValidator(_lower), _matches(REGISTRY_PATTERN, "registry (host name[:port])")
]
Organization = Annotated[
    str, BeforeValidator(_lower), _matches(ORGANIZATION_PATTERN, "organization")
]


class RegistryPolicy(HostModel):
    """A Registry Access Management policy as fetched for one organization."""

    organization: Organization = Field(
        description="Docker organization name: lowercase letters, digits, '-', '_'."
    )
    allowed_registries: tuple[Registry, ...] = Field(
        max_length=MAX_REGISTRIES,
        description="Registries pulls may come from: lowercase host names with an optional "
        "port, no wildcards, no IP addresses; at most 100, duplicates dropped; empty allows "
        "nothing.",
    )
    fetched_at: datetime = Field(description="When the policy was fetched, with a time zone.")

    @field_validator("allowed_registries")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @field_validator("fetched_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("fetched_at must carry a time zone")
        return value.astimezone(timezone.utc)

    def allows(self, registry: str) -> bool:
        """Whether pulls from ``registry`` (``host`` or ``host:port``) are allowed.

        An entry without a port allows every port of that host; an empty list allows nothing.
        """
        name = registry.lower()
        return name in self.allowed_registries or name.split(":", 1)[0] in self.allowed_registries


class CachedPolicy(RegistryPolicy):
    """The policy as the host holds it: where, and the SHA-256 of its exact text."""

    path: str = Field(description="Full path of the cache file on the host.")
    sha256: str = Field(description="SHA-256 of the policy's exact JSON text, lowercase hex.")


class PolicyStatus(HostModel):
    """What Get-DdpermPolicyStatus reports (policy_status.ps1 and health.ps1)."""

    path: str = Field(description="Full path of the cache file on the host.")
    cached: bool = Field(description="Whether the cache file exists.")
    problem: str | None = Field(
        description="The error id read() would raise (DdpermPolicyMissing, -Untrusted, "
        "-Unreadable, -Tampered, -Invalid); None when the cache is usable."
    )
    organization: str | None = Field(description="The cached organization; None unless usable.")
    registries: int = Field(description="How many registries are allowed (0 unless usable).")
    fetched_at: datetime | None = Field(description="When it was fetched; None unless usable.")
    sha256: str | None = Field(
        description="SHA-256 of the policy's JSON text, lowercase hex; None unless usable."
    )

    @property
    def ok(self) -> bool:
        """True when read() would succeed."""
        return self.problem is None


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PolicyComponent(Component):
    """``host.policy``: the Registry Access Management policy cache."""

    def status(self) -> PolicyStatus:
        """The cache's state without failing on a bad cache (``problem`` names what is wrong).

        Returns:
            Whether a usable policy is cached and, if so, a summary of it.

        Raises:
            HostError: the script itself failed on the host.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``PolicyStatus``.
        """
        return self._executor.call("policy_status", PolicyStatus)

    def read(self) -> CachedPolicy:
        """The cached policy, failing closed when it cannot be trusted.

        Returns:
            The policy, where it is cached, and its SHA-256.

        Raises:
            HostError: ``DdpermPolicyMissing``, ``DdpermPolicyUntrusted`` (owner, ACL or a
                link), ``DdpermPolicyUnreadable``, ``DdpermPolicyTampered`` (hash mismatch),
                ``DdpermPolicyInvalid``.
            PolicyError: the script fails its SHA-256 pin; nothing ran.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``CachedPolicy``.
        """
        return self._executor.call("policy_read", CachedPolicy)

    def cache(self, policy: RegistryPolicy) -> CachedPolicy:
        """Store ``policy`` (validated again here) as the host's cached policy.

        Args:
            policy: the organization's policy as fetched.

        Returns:
            The policy as now cached, with its path and SHA-256.

        Raises:
            PolicyError: ``policy`` fails validation, or the script fails its SHA-256 pin;
                nothing ran.
            HostError: ``DdpermPolicyAccessDenied`` (not an administrator),
                ``DdpermPolicyLocked``, ``DdpermPolicyUntrusted`` (the folder was made or
                taken over by a non-administrator), ``DdpermPolicyInvalid``.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``CachedPolicy``.
        """
        try:
            checked = RegistryPolicy.model_validate(policy.model_dump())
        except ValidationError as exc:
            raise PolicyError(f"refused the policy before anything ran: {exc}") from exc
        params = {
            "Organization": checked.organization,
            "AllowedRegistries": list(checked.allowed_registries),
            "FetchedAt": _iso_utc(checked.fetched_at),
        }
        return self._executor.call("policy_cache", CachedPolicy, params)
