"""Fleet audits: ``health()`` on many developer machines at once, for notebooks and CI."""

from ddperm.errors import InventoryError
from ddperm.fleet.audit import FleetInterrupted, audit, check_host, connect_target
from ddperm.fleet.report import FleetReport, HostResult
from ddperm.fleet.targets import Target, from_ansible, from_csv, from_list, load_targets

__all__ = [
    "FleetInterrupted",
    "FleetReport",
    "HostResult",
    "InventoryError",
    "Target",
    "audit",
    "check_host",
    "connect_target",
    "from_ansible",
    "from_csv",
    "from_list",
    "load_targets",
]
