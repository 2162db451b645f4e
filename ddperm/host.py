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

    Get one from ``ddperm.connect()`` (PowerShell Remoting), ``ddperm.local()`` (this
    Windows machine) or ``ddperm.testing.twin_host()`` (the twin). Each family of jobs is a
    component (``host.vm``, ``host.vhd``, ...; see the properties below); ``health()`` runs
    every check in one round trip. Use it as a context manager to close the connection.

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
        self._vm = VMComponent(ex)
        self._vhd = VHDComponent(ex)
        self._engine = EngineComponent(ex, enabled=windows_containers_enabled)
        self._windows_containers = WindowsContainersComponent(
            ex, enabled=windows_containers_enabled
        )
        self._hyperv = HyperVComponent(ex)
        self._bootloader = BootloaderComponent(ex)
        self._features = FeaturesComponent(ex)
        self._hosts_file = HostsFileComponent(ex)
        self._policy = PolicyComponent(ex)
        self._setup = SetupComponent(ex)

    @property
    def vm(self) -> VMComponent:
        """DockerDesktopVM's lifecycle: info, create, start, stop, destroy."""
        return self._vm

    @property
    def vhd(self) -> VHDComponent:
        """DockerDesktopVM's disk: its size, and moving it."""
        return self._vhd

    @property
    def engine(self) -> EngineComponent:
        """The Windows Docker engine service: status, start, stop."""
        return self._engine

    @property
    def windows_containers(self) -> WindowsContainersComponent:
        """Windows containers data: delete all of it."""
        return self._windows_containers

    @property
    def hyperv(self) -> HyperVComponent:
        """The Hyper-V check: feature, hypervisor and VMMS service."""
        return self._hyperv

    @property
    def bootloader(self) -> BootloaderComponent:
        """The boot entry's hypervisorlaunchtype check."""
        return self._bootloader

    @property
    def features(self) -> FeaturesComponent:
        """The Windows optional features check."""
        return self._features

    @property
    def hosts_file(self) -> HostsFileComponent:
        """The hosts-file entry for kubernetes.docker.internal: status, ensure."""
        return self._hosts_file

    @property
    def policy(self) -> PolicyComponent:
        """The Registry Access Management policy cache: status, read, cache."""
        return self._policy

    @property
    def setup(self) -> SetupComponent:
        """Provisioning's write side: features, boot entry, docker-users, restart."""
        return self._setup

    def health(self) -> HealthReport:
        """Every check in one script run (one round trip), with a fix for each problem.

        A check the host could not run is reported in the check (status ``error``) rather
        than raised, so one failure never hides the others.

        Returns:
            The report: ``healthy``, one ``HealthCheck`` per check, ``problems``.

        Raises:
            PolicyError: the health script does not match its pinned SHA-256; nothing ran.
            HostError: the health script itself failed on the host.
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match the report's model.
        """
        return run_health(self.executor, windows_containers_enabled=self.windows_containers_enabled)

    def version(self) -> VersionInfo:
        """ddperm's version, the script manifest's hash, and the host's OS and PowerShell.

        Returns:
            ddperm's and the manifest's versions, and the host's ``HostVersion``.

        Raises:
            PolicyError: the version script does not match its pinned SHA-256; nothing ran.
            HostError: the script failed on the host (e.g. CIM unavailable).
            TransportError: the host could not be reached (retried first).
            AuthenticationError: the host rejected the credentials.
            OutputError: the answer did not match ``HostVersion``.
        """
        host = self.executor.call("version", HostVersion)
        return VersionInfo(
            ddperm=ddperm_version(),
            script_manifest_sha256=self.executor.registry.manifest_sha256,
            host=host,
        )

    def close(self) -> None:
        """Release the runner's connection or process; a later call opens it again."""
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
