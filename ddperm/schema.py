"""Every result model a ``Host`` call returns, and its JSON Schema.

Other languages (and ``ddperm call``'s users) can validate what ddperm answers without
reading the Python: ``json_schema("HealthReport")`` or ``ddperm schema HealthReport``.
"""

from __future__ import annotations

from typing import Any

from ddperm.components.checks import BootloaderStatus, FeaturesReport, HyperVStatus
from ddperm.components.engine import EngineChange, EngineStatus
from ddperm.components.health import HealthReport
from ddperm.components.hosts_file import HostsFileChange, HostsFileStatus
from ddperm.components.policy import CachedPolicy, PolicyStatus
from ddperm.components.setup import (
    BootState,
    DockerUsers,
    FeaturesEnabled,
    LaunchChange,
    MembershipChange,
    RestartScheduled,
)
from ddperm.components.system import VersionInfo
from ddperm.components.vhd import VHDMove, VHDSize
from ddperm.components.vm import VMChange, VMDestroyed, VMInfo
from ddperm.components.windows_containers import DeleteReport
from ddperm.model import HostModel

# (the call, the model it returns), in the order of the Host API
RESULTS: tuple[tuple[str, type[HostModel]], ...] = (
    ("host.health()", HealthReport),
    ("host.version()", VersionInfo),
    ("host.vm.info()", VMInfo),
    ("host.vm.create()", VMInfo),
    ("host.vm.start()", VMChange),
    ("host.vm.stop()", VMChange),
    ("host.vm.destroy()", VMDestroyed),
    ("host.vhd.size()", VHDSize),
    ("host.vhd.move()", VHDMove),
    ("host.engine.status()", EngineStatus),
    ("host.engine.start()", EngineChange),
    ("host.engine.stop()", EngineChange),
    ("host.windows_containers.delete_data()", DeleteReport),
    ("host.hyperv.status()", HyperVStatus),
    ("host.bootloader.status()", BootloaderStatus),
    ("host.features.check()", FeaturesReport),
    ("host.hosts_file.status()", HostsFileStatus),
    ("host.hosts_file.ensure()", HostsFileChange),
    ("host.policy.status()", PolicyStatus),
    ("host.policy.read()", CachedPolicy),
    ("host.policy.cache()", CachedPolicy),
    ("host.setup.enable_features()", FeaturesEnabled),
    ("host.setup.enable_hypervisor_launch()", LaunchChange),
    ("host.setup.docker_users()", DockerUsers),
    ("host.setup.add_docker_user()", MembershipChange),
    ("host.setup.boot_state()", BootState),
    ("host.setup.restart()", RestartScheduled),
)

RESULT_MODELS: dict[str, type[HostModel]] = {model.__name__: model for _, model in RESULTS}


def returned_by(name: str) -> list[str]:
    """The calls that return the model ``name``."""
    return [call for call, model in RESULTS if model.__name__ == name]


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one result model; ``KeyError`` for an unknown name."""
    return RESULT_MODELS[name].model_json_schema()
