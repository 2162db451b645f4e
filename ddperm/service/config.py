"""Where the service listens and logs by default, per platform and privilege."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PIPE_NAME = r"\\.\pipe\ddperm"
SYSTEM_SOCKET = "/run/ddperm/ddperm.sock"
ADDRESS_ENV = "DDPERM_SERVICE"


def default_address() -> str:
    """``$DDPERM_SERVICE``; else the named pipe on Windows; else the system socket (root's
    service) if it exists or we are root; else a socket in this user's runtime directory."""
    configured = os.environ.get(ADDRESS_ENV)
    if configured:
        return configured
    if sys.platform == "win32":
        return PIPE_NAME
    if os.geteuid() == 0 or os.path.exists(SYSTEM_SOCKET):
        return SYSTEM_SOCKET
    runtime = os.environ.get("XDG_RUNTIME_DIR") or str(_state_home())
    return str(Path(runtime, "ddperm", "ddperm.sock"))


def default_audit_log() -> Path:
    if sys.platform == "win32":
        # Its own folder, created admin-only by the service (not the policy cache's folder).
        program_data = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return Path(program_data, "ddperm-service", "audit.jsonl")
    if os.geteuid() == 0:
        return Path("/var/log/ddperm/audit.jsonl")
    return _state_home() / "ddperm" / "audit.jsonl"


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
