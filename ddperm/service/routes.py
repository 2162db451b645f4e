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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ddperm.components import engine
from ddperm.components.checks import (
    DEFAULT_REQUIRED_FEATURES,
    FEATURE_NAME,
    MAX_FEATURES,
    BootloaderStatus,
    FeaturesReport,
    HyperVStatus,
)
from ddperm.components.health import HealthReport
from ddperm.components.system import VersionInfo
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

    def parse(self, params: dict[str, Any]) -> Req:
        """The validated request, or ``RequestError('bad_request')``; nothing has run yet."""
        try:
            return self.request.model_validate(params)
        except ValidationError as exc:
            raise RequestError("bad_request", f"{self.name}: {summarize(exc)}") from None


ROUTES: dict[str, Route[Any, Any]] = {}


def route(
    name: str, request: type[Req], response: type[Resp], *, windows_engine: bool = False
) -> Callable[[Callable[[Host, Req], Resp]], Callable[[Host, Req], Resp]]:
    """Register ``handler`` as route ``name`` (its docstring is the route's summary)."""

    def register(handler: Callable[[Host, Req], Resp]) -> Callable[[Host, Req], Resp]:
        summary = (handler.__doc__ or name).strip().splitlines()[0]
        ROUTES[name] = Route(name, request, response, handler, summary, windows_engine)
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
