"""What an installed service runs with, fixed at install time by an administrator.

On Linux they are baked into the systemd units (root-owned files); on Windows they are
values under ``HKLM\\SOFTWARE\\ddperm\\Service``, which only administrators may change,
the way Docker Desktop's installer keeps ``--no-windows-containers``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ddperm.service.server import DEFAULT_GROUP

Backend = Literal["twin", "local"]


class ServiceSettings(BaseModel):
    """The installed service's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(description="Socket path (Linux) or pipe name (Windows).")
    audit_log: str = Field(description="The audit log file (JSON lines).")
    group: str = Field(default=DEFAULT_GROUP, pattern=r"^[A-Za-z_][A-Za-z0-9_. -]{0,63}$")
    windows_containers_enabled: bool = Field(
        default=True, description="False refuses every Windows-engine route."
    )
    backend: Backend = Field(
        default="local", description="local: this Windows machine; twin: the Windows-host twin."
    )

    def serve_arguments(self) -> list[str]:
        """``ddperm serve`` options for these settings (the address comes separately)."""
        arguments = ["--group", self.group, "--audit-log", self.audit_log]
        arguments += ["--backend", self.backend]
        if not self.windows_containers_enabled:
            arguments.append("--no-windows-containers")
        return arguments
