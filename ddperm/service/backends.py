"""Which host the service runs its jobs on: this Windows machine, or the twin for a demo."""

from __future__ import annotations

from ddperm.host import Host
from ddperm.service.settings import Backend

BACKEND_NAMES = {
    "twin": "the in-process Windows-host twin (no real host configured)",
    "local": "this Windows machine (local PowerShell)",
}


def make_host(backend: Backend, *, windows_containers_enabled: bool) -> Host:
    """A ``Host`` for ``backend``: ``local`` (persistent PowerShell) or ``twin``."""
    if backend == "local":
        from ddperm.transports.local import local

        return local(persistent=True, windows_containers_enabled=windows_containers_enabled)
    from ddperm.testing import twin_host

    return twin_host(windows_containers_enabled=windows_containers_enabled)
