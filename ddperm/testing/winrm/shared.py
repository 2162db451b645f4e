"""Endpoints shared by a whole test session: one per (auth, tls), started on first
use and stopped when the process exits. Assign ``endpoint.fake`` per test."""

from __future__ import annotations

import atexit
import threading
from contextlib import ExitStack

from ddperm.testing.winrm.server import Endpoint, serve

_stack = ExitStack()
_endpoints: dict[tuple[str, bool], Endpoint] = {}
_lock = threading.Lock()


def shared_endpoint(auth: str = "basic", *, tls: bool = False) -> Endpoint:
    """The process-wide endpoint for ``auth`` (and ``tls``), started on first use."""
    with _lock:
        if (auth, tls) not in _endpoints:
            if not _endpoints:
                atexit.register(_stack.close)
            _endpoints[auth, tls] = _stack.enter_context(serve(auth=auth, tls=tls))
        return _endpoints[auth, tls]
