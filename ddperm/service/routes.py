"""The fixed list of jobs the service does, one route each.

A route has a request model (strict: unknown fields and type-confused values are
refused, so nothing like a VM name, a data folder or a daemon setting such as
``pidfile``, ``data-root``, ``exec-path``, ``hosts`` or ``group`` can come in),
a response model, and a handler that calls the ``Host`` facade. The VM name and
every path the service can derive are derived by the library, never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ddperm import guard
from ddperm.components import engine, vm
from ddperm.components.checks import (
    DEFAULT_REQUIRED_FEATURES,
    FEATURE_NAME,
    MAX_FEATURES,
    BootloaderStatus,
    FeaturesReport,
    HyperVStatus,
)
from ddperm.components.health import HealthReport
from ddperm.components.hosts_file import HostsFileChange, HostsFileStatus
from ddperm.components.policy import CachedPolicy, PolicyStatus, RegistryPolicy
from ddperm.components.system import VersionInfo
from ddperm.components.vhd import VHDMove, VHDSize
from ddperm.components.windows_containers import DeleteReport
from ddperm.errors import PolicyError
from ddperm.host import Host
from ddperm.service.protocol import RequestError, summarize


class RouteRequest(BaseModel):
    """Base of every request model: strict types, unknown fields refused, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoParams(RouteRequest):
    """A route that takes no parameters at all."""


Req = TypeVar("Req", bound=RouteRequest)
Resp = TypeVar("Resp", bound=BaseModel)


@dataclass(frozen=True)
class Route(Generic[Req, Resp]):
    name: str
    request: type[Req]
    response: type[Resp]
    run: Callable[[Host, Req], Resp]
    summary: str
    windows_engine: bool = False
    admin_only: bool = False

    def parse(self, params: dict[str, Any]) -> Req:
        """The validated request, or ``RequestError('bad_request')``; nothing has run yet."""
        try:
            return self.request.model_validate(params)
        except ValidationError as exc:
            raise RequestError("bad_request", f"{self.name}: {summarize(exc)}") from None


ROUTES: dict[str, Route[Any, Any]] = {}


def route(
    name: str,
    request: type[Req],
    response: type[Resp],
    *,
    windows_engine: bool = False,
    admin_only: bool = False,
) -> Callable[[Callable[[Host, Req], Resp]], Callable[[Host, Req], Resp]]:
    """Register ``handler`` as route ``name`` (its docstring is the route's summary).

    ``windows_engine``: refused when Windows containers are disabled. ``admin_only``:
    refused for anyone but administrators, even group members.
    """

    def register(handler: Callable[[Host, Req], Resp]) -> Callable[[Host, Req], Resp]:
        summary = (handler.__doc__ or name).strip().splitlines()[0]
        ROUTES[name] = Route(name, request, response, handler, summary, windows_engine, admin_only)
        return handler

    return register


@route("version", NoParams, VersionInfo)
def _version(host: Host, _: NoParams) -> VersionInfo:
    """ddperm's version, the script manifest's hash, and the host's OS."""
    return host.version()


@route("health", NoParams, HealthReport)
def _health(host: Host, _: NoParams) -> HealthReport:
    """Every check in one run, with a fix for each problem."""
    return host.health()


@route("hyperv.status", NoParams, HyperVStatus)
def _hyperv_status(host: Host, _: NoParams) -> HyperVStatus:
    """Whether Hyper-V is enabled: feature, hypervisor and VMMS."""
    return host.hyperv.status()


@route("bootloader.status", NoParams, BootloaderStatus)
def _bootloader_status(host: Host, _: NoParams) -> BootloaderStatus:
    """Whether the bootloader launches the hypervisor."""
    return host.bootloader.status()


def _feature_name(name: str) -> str:
    if not FEATURE_NAME.fullmatch(name):  # fullmatch: "$" alone would allow a trailing newline
        raise ValueError("not a Windows feature name (letters, digits, '-', '_', '.')")
    return name


FeatureName = Annotated[str, AfterValidator(_feature_name)]


class FeaturesRequest(RouteRequest):
    required: list[FeatureName] = Field(
        default_factory=lambda: list(DEFAULT_REQUIRED_FEATURES),
        min_length=1,
        max_length=MAX_FEATURES,
    )


@route("features.check", FeaturesRequest, FeaturesReport)
def _features_check(host: Host, request: FeaturesRequest) -> FeaturesReport:
    """Whether the required Windows features are installed and enabled."""
    return host.features.check(required=request.required)


class EngineRequest(RouteRequest):
    timeout: int = Field(default=engine.DEFAULT_TIMEOUT, ge=1, le=engine.MAX_TIMEOUT)


@route("engine.status", NoParams, engine.EngineStatus, windows_engine=True)
def _engine_status(host: Host, _: NoParams) -> engine.EngineStatus:
    """Whether the Windows Docker engine is running."""
    return host.engine.status()


@route("engine.start", EngineRequest, engine.EngineChange, windows_engine=True)
def _engine_start(host: Host, request: EngineRequest) -> engine.EngineChange:
    """Start the Windows Docker engine (ensure running)."""
    return host.engine.start(timeout=request.timeout)


@route("engine.stop", EngineRequest, engine.EngineChange, windows_engine=True)
def _engine_stop(host: Host, request: EngineRequest) -> engine.EngineChange:
    """Stop the Windows Docker engine (ensure stopped)."""
    return host.engine.stop(timeout=request.timeout)


# -- the VM and its disk: the name and the data folder are derived, never sent -----------------


class VMCreateRequest(RouteRequest):
    """Only the sizes; the VM name and the data folder are fixed by the service."""

    cpus: int = 2
    memory_bytes: int = 2 * vm.GIB
    disk_size_bytes: int = 64 * vm.GIB

    @model_validator(mode="after")
    def _valid_spec(self) -> VMCreateRequest:
        self.spec()
        return self

    def spec(self) -> vm.VMSpec:
        try:
            return vm.VMSpec(
                cpus=self.cpus, memory_bytes=self.memory_bytes, disk_size_bytes=self.disk_size_bytes
            )
        except ValidationError as exc:
            raise ValueError(summarize(exc)) from None


class VMStopRequest(RouteRequest):
    force: bool = False
    timeout: int = Field(default=vm.DEFAULT_STOP_TIMEOUT, ge=1, le=vm.MAX_STOP_TIMEOUT)


@route("vm.info", NoParams, vm.VMInfoResult)
def _vm_info(host: Host, _: NoParams) -> vm.VMInfoResult:
    """DockerDesktopVM as Hyper-V reports it (vm is null when it does not exist)."""
    return vm.VMInfoResult(vm=host.vm.info())


@route("vm.create", VMCreateRequest, vm.VMInfo)
def _vm_create(host: Host, request: VMCreateRequest) -> vm.VMInfo:
    """Create DockerDesktopVM and its disk in the default data folder."""
    return host.vm.create(request.spec())


@route("vm.start", NoParams, vm.VMChange)
def _vm_start(host: Host, _: NoParams) -> vm.VMChange:
    """Start DockerDesktopVM (ensure running)."""
    return host.vm.start()


@route("vm.stop", VMStopRequest, vm.VMChange)
def _vm_stop(host: Host, request: VMStopRequest) -> vm.VMChange:
    """Stop DockerDesktopVM (guest shutdown; force turns it off)."""
    return host.vm.stop(force=request.force, timeout=request.timeout)


@route("vm.destroy", NoParams, vm.VMDestroyed)
def _vm_destroy(host: Host, _: NoParams) -> vm.VMDestroyed:
    """Remove DockerDesktopVM and delete its DockerDesktop.vhdx."""
    return host.vm.destroy()


def _destination(path: str) -> str:
    try:
        return guard.check_path(path, what="destination")
    except PolicyError as exc:
        raise ValueError(str(exc)) from None


class VHDMoveRequest(RouteRequest):
    """The one path a caller may send: checked by the guard here, for links on the host."""

    destination: Annotated[str, AfterValidator(_destination)]


@route("vhd.size", NoParams, VHDSize)
def _vhd_size(host: Host, _: NoParams) -> VHDSize:
    """The size of DockerDesktopVM's disk."""
    return host.vhd.size()


@route("vhd.move", VHDMoveRequest, VHDMove)
def _vhd_move(host: Host, request: VHDMoveRequest) -> VHDMove:
    """Move DockerDesktopVM's disk to a folder or .vhdx path (VM off)."""
    return host.vhd.move(request.destination)


# -- Windows containers data, the hosts file, the policy cache ----------------------------------


class DeleteDataRequest(RouteRequest):
    confirm: bool

    @model_validator(mode="after")
    def _confirmed(self) -> DeleteDataRequest:
        if self.confirm is not True:
            raise ValueError("confirm must be true: this deletes every Windows container")
        return self


@route("windows_containers.delete_data", DeleteDataRequest, DeleteReport, windows_engine=True)
def _delete_data(host: Host, _: DeleteDataRequest) -> DeleteReport:
    """Delete all Windows containers data (the engine must be stopped)."""
    return host.windows_containers.delete_data(confirm=True)


@route("hosts_file.status", NoParams, HostsFileStatus)
def _hosts_status(host: Host, _: NoParams) -> HostsFileStatus:
    """Whether the hosts file has the kubernetes.docker.internal entry."""
    return host.hosts_file.status()


@route("hosts_file.ensure", NoParams, HostsFileChange)
def _hosts_ensure(host: Host, _: NoParams) -> HostsFileChange:
    """Ensure the kubernetes.docker.internal entry in the hosts file."""
    return host.hosts_file.ensure()


class PolicyCacheRequest(RouteRequest):
    policy: RegistryPolicy


@route("policy.status", NoParams, PolicyStatus)
def _policy_status(host: Host, _: NoParams) -> PolicyStatus:
    """The policy cache's state (problem names what is wrong)."""
    return host.policy.status()


@route("policy.read", NoParams, CachedPolicy)
def _policy_read(host: Host, _: NoParams) -> CachedPolicy:
    """The cached Registry Access Management policy (fails closed)."""
    return host.policy.read()


@route("policy.cache", PolicyCacheRequest, CachedPolicy, admin_only=True)
def _policy_cache(host: Host, request: PolicyCacheRequest) -> CachedPolicy:
    """Cache a Registry Access Management policy (administrators only)."""
    return host.policy.cache(request.policy)
