"""PLACEHOLDER: to be written."""

from ddperm.executor import Executor
from ddperm.model import HostModel


class HealthReport(HostModel):
    pass


def run_health(executor: Executor, *, windows_containers_enabled: bool) -> HealthReport:
    raise NotImplementedError
