"""Fleet audits: ``health()`` on many developer machines at once, for notebooks and CI."""

from ddperm.fleet.audit import audit, check_host, connect_target
from ddperm.fleet.report import FleetReport, HostResult
from ddperm.fleet.targets import Target, from_ansible, from_csv, from_list, load_targets

__all__ = [
    "FleetReport",
    "HostResult",
    "Target",
    "audit",
    "check_host",
    "connect_target",
    "from_ansible",
    "from_csv",
    "from_list",
    "load_targets",
]
