"""The helper's own version: ddperm's, the script manifest's, and the host's."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from pydantic import Field

from ddperm.model import HostModel


def ddperm_version() -> str:
    """The installed ddperm package's version ("0+unknown" from a bare checkout)."""
    try:
        return _dist_version("ddperm")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class HostVersion(HostModel):
    """What ``version.ps1`` reports about the host."""

    os_caption: str = Field(description="Win32_OperatingSystem.Caption (may be localised).")
    os_version: str = Field(description="Win32_OperatingSystem.Version, e.g. 10.0.22631.")
    os_build: int = Field(description="Windows build number, e.g. 22631.")
    powershell_version: str = Field(description="$PSVersionTable.PSVersion, e.g. 5.1.22621.2506.")
    powershell_edition: str = Field(description="Desktop (Windows PowerShell) or Core (7+).")
    computer_name: str = Field(description="The host's computer name.")


class VersionInfo(HostModel):
    """ddperm's version, the script manifest's hash, and what the host runs."""

    ddperm: str = Field(description="The installed ddperm package version.")
    script_manifest_sha256: str = Field(
        description="SHA-256 of ps_scripts/manifest.json: which vetted scripts are in use."
    )
    host: HostVersion = Field(description="The host's OS and PowerShell.")
