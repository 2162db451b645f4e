"""Endpoints shared by a whole test session: one per (auth, tls), started on first
use and stopped when the process exits. Assign ``endpoint.fake`` per test."""

from __future__ import annotations

import atexit
import threading
from contextlib import ExitStack

from ddperm.testing.winrm.server import Endpoint, serve

_stack = ExitStack()
_endpoints: dict[tuple[str, bool, tuple[tuple[str, str], ...]], Endpoint] = {}
_lock = threading.Lock()


def shared_endpoint(
    auth: str = "basic", *, tls: bool = False, accounts: dict[str, str] | None = None
) -> Endpoint:
    """The process-wide endpoint for ``auth`` (and ``tls``, and extra login ``accounts``),
    started on first use."""
    key = (auth, tls, tuple(sorted((accounts or {}).items())))
    with _lock:
        if key not in _endpoints:
            if not _endpoints:
                atexit.register(_stack.close)
            _endpoints[key] = _stack.enter_context(serve(auth=auth, tls=tls, accounts=accounts))
        return _endpoints[key]
