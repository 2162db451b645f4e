"""The helper's own version: ddperm's, the script manifest's, and the host's."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from ddperm.model import HostModel


def ddperm_version() -> str:
    try:
        return _dist_version("ddperm")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class HostVersion(HostModel):
    """What ``version.ps1`` reports about the host."""

    os_caption: str
    os_version: str
    os_build: int
    powershell_version: str
    powershell_edition: str
    computer_name: str


class VersionInfo(HostModel):
    ddperm: str
    script_manifest_sha256: str
    host: HostVersion
