"""Host: the facade over one Windows machine, one component per family of jobs."""

from __future__ import annotations

from types import TracebackType

from ddperm.components.checks import BootloaderComponent, FeaturesComponent, HyperVComponent
from ddperm.components.engine import EngineComponent
from ddperm.components.health import HealthReport, run_health
from ddperm.components.hosts_file import HostsFileComponent
from ddperm.components.policy import PolicyComponent
from ddperm.components.setup import SetupComponent
from ddperm.components.system import HostVersion, VersionInfo, ddperm_version
from ddperm.components.vhd import VHDComponent
from ddperm.components.vm import VMComponent
from ddperm.components.windows_containers import WindowsContainersComponent
from ddperm.executor import Executor
from ddperm.retry import RetryPolicy
from ddperm.runner import Runner
from ddperm.scripts import ScriptRegistry


class Host:
    """Everything ddperm can do on one machine, over whichever runner reaches it.

    ``windows_containers_enabled=False`` mirrors the installer's
    ``--no-windows-containers``: every Windows-engine and Windows-containers
    operation is then refused with ``PolicyError`` before anything runs.
    """

    def __init__(
        self,
        runner: Runner,
        *,
        windows_containers_enabled: bool = True,
        retry: RetryPolicy | None = None,
        registry: ScriptRegistry | None = None,
    ) -> None:
        self.runner = runner
        self.windows_containers_enabled = windows_containers_enabled
        self.executor = Executor(runner, registry=registry, retry=retry)
        ex = self.executor
        self.vm = VMComponent(ex)
        self.vhd = VHDComponent(ex)
        self.engine = EngineComponent(ex, enabled=windows_containers_enabled)
        self.windows_containers = WindowsContainersComponent(ex, enabled=windows_containers_enabled)
        self.hyperv = HyperVComponent(ex)
        self.bootloader = BootloaderComponent(ex)
        self.features = FeaturesComponent(ex)
        self.hosts_file = HostsFileComponent(ex)
        self.policy = PolicyComponent(ex)
        self.setup = SetupComponent(ex)

    def health(self) -> HealthReport:
        """Every check in one script run (one round trip), with a fix for each problem."""
        return run_health(self.executor, windows_containers_enabled=self.windows_containers_enabled)

    def version(self) -> VersionInfo:
        """ddperm's version, the script manifest's hash, and the host's OS and PowerShell."""
        host = self.executor.call("version", HostVersion)
        return VersionInfo(
            ddperm=ddperm_version(),
            script_manifest_sha256=self.executor.registry.manifest_sha256,
            host=host,
        )

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
