"""Why the service would not start."""

from __future__ import annotations


class ServiceStartError(Exception):
    """The service refused to start; the message says why and what to do."""
