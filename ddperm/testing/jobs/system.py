"""Twin of version.ps1."""

from __future__ import annotations

from ddperm.testing.dispatch import handles
from ddperm.testing.fakehost import FakeHost


@handles("version")
def version(host: FakeHost) -> dict[str, object]:
    return {
        "os_caption": host.os.caption,
        "os_version": host.os.version,
        "os_build": host.os.build,
        "powershell_version": host.os.powershell_version,
        "powershell_edition": host.edition,
        "computer_name": host.os.computer_name,
    }
