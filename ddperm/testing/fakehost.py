"""FakeHost: the state model of one Windows machine running Docker Desktop.

Everything is plain data that tests seed directly, e.g.::

    fake = FakeHost()
    fake.os.ui_culture = "de-DE"
    fake.features["Microsoft-Hyper-V"] = "Disabled"
    fake.fs.write_bytes(HOSTS_PATH, b"# 3 MB of comments" * 180_000)

Behaviour (what each script does to this state, and how it fails) lives in
``ddperm.testing.jobs``; the protocol that serves it lives in the runners.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ddperm.testing.acl import TRUSTED_INSTALLER
from ddperm.testing.fs import ADMINISTRATORS, USERS, FakeFileSystem

HOSTS_PATH = r"C:\Windows\System32\drivers\etc\hosts"
DOCKER_DESKTOP_FOLDER = r"C:\ProgramData\DockerDesktop"
DEFAULT_DATA_FOLDER = DOCKER_DESKTOP_FOLDER + r"\vm-data"
CONTAINERS_DATA_ROOT = r"C:\ProgramData\Docker"
POLICY_FOLDER = r"C:\ProgramData\ddperm"
HYPERV_ADMINISTRATORS = "S-1-5-32-578"
DOCKER_USERS_SID = "S-1-5-21-1004336348-1177238915-682003330-1009"

STOCK_HOSTS = (
    b"# Copyright (c) 1993-2009 Microsoft Corp.\r\n#\r\n"
    b"# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.\r\n#\r\n"
    b"# localhost name resolution is handled within DNS itself.\r\n"
    b"#\t127.0.0.1       localhost\r\n#\t::1             localhost\r\n"
)

REQUIRED_FEATURES = ("Microsoft-Hyper-V", "Microsoft-Hyper-V-Hypervisor", "Containers")


@dataclass
class OSInfo:
    caption: str = "Microsoft Windows 11 Pro"
    version: str = "10.0.22631"
    build: int = 22631
    edition: str = "Professional"
    powershell_version: str = "5.1.22621.2506"  # of the PowerShell running the scripts
    ui_culture: str = "en-US"
    computer_name: str = "DEV-PC01"


@dataclass
class Caller:
    """Who the scripts run as (the remoting or local user)."""

    user: str = r"DEV-PC01\dev"
    sid: str = "S-1-5-21-1004336348-1177238915-682003330-1001"
    elevated: bool = True
    groups: set[str] = field(default_factory=lambda: {ADMINISTRATORS, USERS, DOCKER_USERS_SID})


@dataclass
class FakeService:
    """A Windows service. ``start_seconds``/``stop_seconds`` are how long a start or stop
    takes in simulated time (``math.inf``: it hangs pending); nothing really sleeps."""

    name: str
    display_name: str
    status: str = "Stopped"  # Running, Stopped, StartPending, StopPending, Paused
    start_type: str = "Manual"  # Automatic, Manual, Disabled (Boot, System for drivers)
    start_seconds: float = 2.0
    stop_seconds: float = 2.0


@dataclass
class FakeGroup:
    name: str
    sid: str
    members: list[str] = field(default_factory=list)


@dataclass
class SessionConfiguration:
    """A registered PowerShell session configuration (what its .pssc said at registration)."""

    name: str
    session_type: str = "RestrictedRemoteServer"
    language_mode: str = "NoLanguage"
    run_as_virtual_account: bool = True
    run_as_virtual_account_groups: tuple[str, ...] = ()
    transcript_directory: str = ""
    role_definitions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Principal (``COMPUTER\\group``, ``DOMAIN\\user``) -> role capability names."""


@dataclass
class FakeVHD:
    """Get-VHD's view of a disk file (the bytes themselves are a sized file in ``fs``)."""

    path: str
    size: int
    format: str = "VHDX"  # VHD, VHDX, VHDSet
    type: str = "Dynamic"  # Fixed, Dynamic, Differencing
    minimum_size: int | None = None
    logical_sector_size: int = 512
    physical_sector_size: int = 4096
    block_size: int = 33_554_432
    attached: bool = False
    parent_path: str = ""  # a differencing disk's parent (a checkpoint's .avhdx over the .vhdx)


# Integration components by the GUID that ends Get-VMIntegrationService's Id
# ("Microsoft:<VMId>\<GUID>"), with their names, which Windows localises.
SHUTDOWN_COMPONENT = "9F8233AC-BE49-4C79-8EE3-E7E1985B2077"
INTEGRATION_COMPONENTS = {
    "6C09BB55-D683-4DA0-8931-C9BF705F6480": {
        "en": "Guest Service Interface",
        "de": "Gastdienstschnittstelle",
    },
    "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47": {"en": "Heartbeat", "de": "Takt"},
    "2A34B1C2-FD73-4043-8A5B-DD2159BC743F": {
        "en": "Key-Value Pair Exchange",
        "de": "Austausch von Schl\u00fcsselwertepaaren",
    },
    SHUTDOWN_COMPONENT: {"en": "Shutdown", "de": "Herunterfahren"},
    "2497F4DE-E9FA-4204-80E4-4B75C46419C0": {
        "en": "Time Synchronization",
        "de": "Zeitsynchronisierung",
    },
    "5CED1297-4598-4915-A5FC-AD21BB4D02A4": {"en": "VSS", "de": "VSS"},
}
# What Docker Desktop enables on its VM: Heartbeat, Shutdown, Time Synchronization.
_DOCKER_ENABLED = (
    "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47",
    SHUTDOWN_COMPONENT,
    "2497F4DE-E9FA-4204-80E4-4B75C46419C0",
)


@dataclass
class FakeIntegrationService:
    """One integration service of a VM. ``status`` is its PrimaryOperationalStatus (enum
    name: Ok, NoContact, LostCommunication, ...) while the VM runs; None when the VM is not
    running."""

    component: str  # the GUID at the end of its Id
    enabled: bool = True
    status: str = "Ok"


def _docker_integration_services() -> list[FakeIntegrationService]:
    return [
        FakeIntegrationService(guid, enabled=guid in _DOCKER_ENABLED)
        for guid in INTEGRATION_COMPONENTS
    ]


@dataclass
class FakeVM:
    name: str
    state: str = "Off"  # Hyper-V's VMState names: Off, Running, Saved, Paused, Starting, ...
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    generation: int = 2
    processor_count: int = 2
    memory_startup_bytes: int = 2 * 2**30
    vhd_path: str = ""  # its one hard disk ("" when it has none)
    path: str = ""
    hangs_on_shutdown: bool = False  # the guest accepted a shutdown but does not finish it
    shutdown_error: str = ""  # the guest's shutdown fails with this Hyper-V message
    secure_boot: bool = True  # Generation 2 default (Microsoft Windows template)
    integration_services: list[FakeIntegrationService] = field(
        default_factory=_docker_integration_services
    )
    checkpoints: list[str] = field(default_factory=list)  # checkpoint names, oldest first
    dvd_paths: list[str] = field(default_factory=list)  # images in its DVD drives
    boot_order: list[str] = field(default_factory=list)  # "HardDiskDrive:<path>", "DvdDrive:<path>"

    def integration_service(self, component: str) -> FakeIntegrationService | None:
        return next((s for s in self.integration_services if s.component == component), None)


def _default_services() -> dict[str, FakeService]:
    return {
        "vmms": FakeService("vmms", "Hyper-V Virtual Machine Management", "Running", "Automatic"),
        "vmcompute": FakeService("vmcompute", "Hyper-V Host Compute Service", "Running", "Manual"),
        "com.docker.service": FakeService(
            "com.docker.service", "Docker Desktop Service", "Running", "Manual"
        ),
        "docker": FakeService("docker", "Docker Engine", "Stopped", "Manual"),
    }


# Stock Windows 11 folders as (Get-Acl).Sddl shows them (docs/windows-behaviour.md, "File
# system, ACLs and the policy cache"). ProgramData lets every user create files and folders
# in it (BU: CI, WD/AD/WEA/WA) and own what they create (CREATOR OWNER: GA, inherit-only).
PROGRAMDATA_SDDL = (
    "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
    "(A;CI;DCLCRPCR;;;BU)"
)
# C:\Windows and C:\Program Files: TrustedInstaller's, read-only for users.
SYSTEM_FOLDER_SDDL = (
    f"O:{TRUSTED_INSTALLER}G:{TRUSTED_INSTALLER}D:PAI(A;;FA;;;{TRUSTED_INSTALLER})"
    f"(A;CIIO;GA;;;{TRUSTED_INSTALLER})(A;;0x1301bf;;;SY)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;BA)"
    "(A;OICIIO;GA;;;BA)(A;;0x1200a9;;;BU)(A;OICIIO;GXGR;;;BU)(A;OICIIO;GA;;;CO)"
)
USERS_FOLDER_SDDL = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
# Docker Desktop's installer makes its ProgramData folder admin-only (CVE-2025-3224).
DOCKER_DESKTOP_SDDL = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
# The Windows engine makes its data root with moby's SddlAdministratorsLocalSystem.
ENGINE_ROOT_SDDL = "D:P(A;OICI;GA;;;BA)(A;OICI;GA;;;SY)"


def _profile_sddl(sid: str) -> str:
    return f"O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{sid})"


def _stock_fs() -> FakeFileSystem:
    """A Windows 11 install before Docker Desktop: stock folders with their real ACLs."""
    fs = FakeFileSystem()
    fs.mkdir(r"C:\Windows", acl=SYSTEM_FOLDER_SDDL)
    fs.mkdir(r"C:\Program Files", acl=SYSTEM_FOLDER_SDDL)
    fs.mkdir(r"C:\Windows\System32\drivers\etc")
    fs.write_bytes(HOSTS_PATH, STOCK_HOSTS)
    fs.mkdir(r"C:\ProgramData", acl=PROGRAMDATA_SDDL)
    fs.mkdir(r"C:\Users", acl=USERS_FOLDER_SDDL)
    fs.mkdir(r"C:\Users\dev", acl=_profile_sddl(Caller().sid))
    return fs


def _default_fs() -> FakeFileSystem:
    """Docker Desktop installed: its admin-only ProgramData folder, the VM data folder, and
    the Windows engine's data root."""
    fs = _stock_fs()
    fs.mkdir(DOCKER_DESKTOP_FOLDER, acl=DOCKER_DESKTOP_SDDL)
    fs.mkdir(DEFAULT_DATA_FOLDER)
    fs.mkdir(CONTAINERS_DATA_ROOT, acl=ENGINE_ROOT_SDDL)
    return fs


@dataclass
class FakeHost:
    """One Windows machine. Seed any field; the jobs act on it as Windows would."""

    os: OSInfo = field(default_factory=OSInfo)
    # Which PowerShell runs the scripts: Windows PowerShell 5.1 ("Desktop", .NET Framework;
    # what PSRP's default endpoint and powershell.exe give; paths limited to MAX_PATH) or
    # PowerShell 7 ("Core", .NET; long paths work). What differs is modelled in
    # ddperm.testing.editions.
    edition: Literal["Desktop", "Core"] = "Desktop"
    caller: Caller = field(default_factory=Caller)
    fs: FakeFileSystem = field(default_factory=_default_fs)
    vms: list[FakeVM] = field(default_factory=list)
    vhds: dict[str, FakeVHD] = field(default_factory=dict)  # key: path.lower()
    features: dict[str, str] = field(
        default_factory=lambda: {
            "Microsoft-Hyper-V-All": "Enabled",
            "Microsoft-Hyper-V": "Enabled",
            "Microsoft-Hyper-V-Hypervisor": "Enabled",
            "Microsoft-Hyper-V-Services": "Enabled",
            "Microsoft-Hyper-V-Management-PowerShell": "Enabled",
            "Containers": "Enabled",
            "VirtualMachinePlatform": "Disabled",
            "HypervisorPlatform": "Disabled",
        }
    )
    hypervisorlaunchtype: str | None = "Auto"  # "Auto", "Off", or None when never set
    hypervisor_present: bool = True
    logical_processors: int = 8  # Hyper-V refuses a VM with more virtual processors
    available_memory_bytes: int = 16 * 2**30  # Start-VM fails for a VM that needs more
    dism_com_registered: bool = True  # False: pwsh 7 without DISM COM class (PowerShell #13866)
    services: dict[str, FakeService] = field(default_factory=_default_services)
    groups: dict[str, FakeGroup] = field(
        default_factory=lambda: {
            "docker-users": FakeGroup("docker-users", DOCKER_USERS_SID, [r"DEV-PC01\dev"]),
            "Hyper-V Administrators": FakeGroup("Hyper-V Administrators", HYPERV_ADMINISTRATORS),
        }
    )
    restart_pending: bool = False
    accounts: dict[str, str] = field(
        default_factory=lambda: {
            r"DEV-PC01\dev": "S-1-5-21-1004336348-1177238915-682003330-1001",
            r"DEV-PC01\alice": "S-1-5-21-1004336348-1177238915-682003330-1002",
            r"CORP\bob": "S-1-5-21-3623811015-3361044348-30300820-1013",
        }
    )  # accounts Windows can resolve (NTAccount.Translate), name -> SID
    last_boot: datetime = field(
        default_factory=lambda: datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
    )
    # How far LastBootUpTime moves on each query without a restart: Windows derives it from
    # the wall clock minus the tick count, so clock adjustments move it (windows_exporter
    # #74, #2336; psutil #1007). Zero by default.
    boot_time_drift: timedelta = timedelta(0)
    restart_delay: int = 0  # DelaySeconds of the last restart scheduled (restart.ps1)
    restart_hooks: list[Callable[[int], None]] = field(default_factory=list, repr=False)
    # Session configurations WinRM serves besides the default one (Register-PSSessionConfiguration),
    # by lower-cased name; registering or unregistering one restarts WinRM (winrm_restart_hooks).
    session_configurations: dict[str, SessionConfiguration] = field(default_factory=dict)
    winrm_restart_hooks: list[Callable[[], None]] = field(default_factory=list, repr=False)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The session's job repository: jobs a script started with -AsJob and left behind.
    jobs: list[Any] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def execute(self, script: str, params: Mapping[str, Any]) -> object:
        """Run the twin's version of ``script``; raises ``ErrorRecord`` as Windows would."""
        from ddperm.testing import jobs  # noqa: F401  (registers every handler)
        from ddperm.testing.dispatch import dispatch

        with self._lock:
            self.calls.append((script, dict(params)))
            return dispatch(self, script, params)

    @classmethod
    def fresh(cls) -> FakeHost:
        """A Windows machine before Docker Desktop: Hyper-V and Containers disabled, the
        hypervisor not launched, no docker-users group, no Docker Desktop folder in
        ProgramData, neither Docker Desktop's service nor the Windows engine service
        ``docker`` (Docker Desktop registers both): what provisioning starts from."""
        fake = cls(fs=_stock_fs())
        for name in (
            "Microsoft-Hyper-V-All",
            "Microsoft-Hyper-V",
            "Microsoft-Hyper-V-Hypervisor",
            "Containers",
        ):
            fake.features[name] = "Disabled"
        fake.hypervisorlaunchtype = None
        fake.hypervisor_present = False
        fake.services["vmms"].status = "Stopped"
        del fake.services["docker"], fake.services["com.docker.service"]
        del fake.groups["docker-users"]
        return fake

    def restart(self, delay_seconds: int | None = None) -> None:
        """What a restart of Windows does to this state (``delay_seconds`` after it was
        scheduled, by default the last scheduled delay: the new boot time is at least that
        much later than the old one).

        Pending feature changes complete, the hypervisor runs if Hyper-V is enabled and
        the boot entry says Auto, services come up by start type (VMMS with Hyper-V),
        VMs that were running stay running only if the hypervisor is there (Hyper-V's
        default automatic start action), and the boot time moves on.
        """
        with self._lock:
            for name, state in self.features.items():
                if state in ("EnablePending", "DisablePending"):
                    self.features[name] = state.removesuffix("Pending") + "d"
            hyperv = all(
                self.features.get(f) == "Enabled"
                for f in ("Microsoft-Hyper-V", "Microsoft-Hyper-V-Hypervisor")
            )
            self.hypervisor_present = hyperv and self.hypervisorlaunchtype == "Auto"
            for service in self.services.values():
                automatic = service.start_type == "Automatic"
                service.status = "Running" if automatic else "Stopped"
            if "vmms" in self.services:
                self.services["vmms"].status = "Running" if hyperv else "Stopped"
            for vm in self.vms:
                if vm.state != "Running" or not self.hypervisor_present:
                    vm.state = "Off" if vm.state != "Saved" else "Saved"
            self.restart_pending = False
            now = datetime.now(timezone.utc).replace(microsecond=0)
            delay = self.restart_delay if delay_seconds is None else delay_seconds
            self.last_boot = max(now, self.last_boot + timedelta(seconds=delay + 1))

    def restart_winrm(self) -> None:
        """What ``Restart-Service winrm`` does to remoting sessions (the wire twin drops them)."""
        for hook in list(self.winrm_restart_hooks):
            hook()

    # -- small queries the jobs share ------------------------------------------------

    def groups_of(self, account: str) -> list[FakeGroup]:
        """The local groups whose members include ``account`` (by name or SID)."""
        sid = self.accounts.get(account, account)
        return [g for g in self.groups.values() if account in g.members or sid in g.members]

    def vms_named(self, name: str) -> list[FakeVM]:
        """Hyper-V matches VM names case-insensitively."""
        return [vm for vm in self.vms if vm.name.lower() == name.lower()]

    def vhd(self, path: str) -> FakeVHD | None:
        return self.vhds.get(path.lower())
