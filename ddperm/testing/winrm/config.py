"""The twin's WinRM service settings (``winrm get winrm/config``) and its resource catalog."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ddperm.testing.winrm.soap import q

POWERSHELL_PREFIX = "http://schemas.microsoft.com/powershell/"
CMD_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
DEFAULT_CONFIGURATIONS = (
    "Microsoft.PowerShell",
    "Microsoft.PowerShell.Workflow",
    "Microsoft.PowerShell32",
)
"""Session configurations a Windows 10/11 client registers (Enable-PSRemoting)."""


@dataclass(frozen=True)
class WinRMConfig:
    """The settings of the twin's WinRM service that change what a client sees."""

    allow_unencrypted: bool = False
    """Service/AllowUnencrypted: off by default, so http needs message encryption."""
    max_envelope_size_kb: int = 500
    max_timeout_ms: int = 60000
    configurations: tuple[str, ...] = DEFAULT_CONFIGURATIONS

    @property
    def max_envelope_size(self) -> int:
        return self.max_envelope_size_kb * 1024

    def shell_kind(self, resource_uri: str) -> str | None:
        """ "psrp" or "cmd" for a shell resource URI in the catalog, else None."""
        if resource_uri.lower() == CMD_SHELL:
            return "cmd"
        name = resource_uri[len(POWERSHELL_PREFIX) :]
        known = {c.lower() for c in self.configurations}
        if resource_uri.lower().startswith(POWERSHELL_PREFIX) and name.lower() in known:
            return "psrp"
        return None

    def element(self) -> ET.Element:
        """The ``cfg:Config`` body a Get of the config resource answers with."""
        config = ET.Element(q("cfg", "Config"))
        _add(config, MaxEnvelopeSizekb=self.max_envelope_size_kb, MaxTimeoutms=self.max_timeout_ms)
        _add(config, MaxBatchItems=32000, MaxProviderRequests=4294967295)
        service = ET.SubElement(config, q("cfg", "Service"))
        _add(service, MaxConcurrentOperationsPerUser=1500, MaxConnections=300)
        _add(service, AllowUnencrypted=str(self.allow_unencrypted).lower())
        auth = ET.SubElement(service, q("cfg", "Auth"))
        _add(auth, Basic="true", Kerberos="true", Negotiate="true", Certificate="false")
        _add(auth, CredSSP="false", CbtHardeningLevel="Relaxed")
        _add(service, AllowRemoteAccess="true")
        winrs = ET.SubElement(config, q("cfg", "Winrs"))
        _add(winrs, AllowRemoteShellAccess="true", IdleTimeout=7200000)
        return config


def _add(parent: ET.Element, **values: object) -> None:
    for name, value in values.items():
        ET.SubElement(parent, q("cfg", name)).text = str(value)
