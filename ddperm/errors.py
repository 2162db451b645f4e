"""The exception hierarchy: each class tells the caller what to do next."""

from __future__ import annotations


class DdpermError(Exception):
    """Base class of every error ddperm raises on purpose."""


class PolicyError(DdpermError):
    """Refused by ddperm's guard before anything ran on the host."""


class ConfigurationError(DdpermError, ValueError):
    """The settings given cannot work (bad option, missing file); nothing was sent to a host."""


class InventoryError(ConfigurationError):
    """A fleet inventory (list, CSV, Ansible) is missing, unreadable, invalid or empty."""


class TransportError(DdpermError):
    """Could not talk to the host; safe to retry for reads and ensure-style writes."""

    retryable = True
    """Whether the retry policy may try again (transient faults only)."""


class AuthenticationError(TransportError):
    """The host rejected the credentials, or there were none to offer; never retried."""

    retryable = False


class TLSError(TransportError):
    """The TLS handshake failed: an untrusted certificate, or a port without TLS; never retried."""

    retryable = False


class OutputError(DdpermError):
    """The host answered, but the answer did not match the expected model."""


class HostError(DdpermError):
    """The host ran the script and reported an error record."""

    def __init__(
        self,
        message: str,
        *,
        fully_qualified_error_id: str = "",
        category: str = "NotSpecified",
        target: str = "",
        exception_type: str = "",
        script: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fully_qualified_error_id = fully_qualified_error_id
        self.category = category
        self.target = target
        self.exception_type = exception_type
        self.script = script

    @property
    def error_id(self) -> str:
        """The part of the FullyQualifiedErrorId before the first comma."""
        return self.fully_qualified_error_id.split(",", 1)[0]

    def __str__(self) -> str:
        where = f" [{self.script}]" if self.script else ""
        fqid = f" ({self.fully_qualified_error_id})" if self.fully_qualified_error_id else ""
        return f"{self.message}{fqid}{where}"


class MissingDependencyError(DdpermError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, package: str, *, extra: str = "fleet") -> None:
        super().__init__(
            f"{package} is not installed; it comes with the extra: pip install 'ddperm[{extra}]'"
        )
        self.name = package
        self.extra = extra
