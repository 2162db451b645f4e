"""Twin of health.ps1: the same twin functions the single-check handlers use, each check
in its own try/except, as the script wraps each library call in try/catch."""

from __future__ import annotations

from collections.abc import Callable

from ddperm.testing.dispatch import handles
from ddperm.testing.errors import ErrorRecord
from ddperm.testing.fakehost import FakeHost
from ddperm.testing.jobs import checks, engine, hosts_file, hyperv, policy


def _outcome(check: Callable[[], object]) -> dict[str, object]:
    """Twin of New-DdpermCheckOutcome around one check."""
    try:
        return {"result": check(), "error": None}
    except ErrorRecord as record:
        return {"result": None, "error": checks.check_error(record)}


@handles("health")
def health(
    host: FakeHost, VMName: str, FeatureName: list[str], WindowsContainers: bool
) -> dict[str, object]:
    names = checks.validate_feature_names("health", FeatureName)
    return {
        "hyperv": _outcome(lambda: checks.hyperv_status(host)),
        "bootloader": _outcome(lambda: checks.bootloader_status(host)),
        "features": _outcome(lambda: checks.features_report(host, names)),
        "vm": _outcome(lambda: hyperv.vm_info(host, VMName)),
        "engine": _outcome(lambda: engine.engine_status(host)) if WindowsContainers else None,
        "hosts_file": _outcome(lambda: hosts_file.hosts_status(host)),
        "policy": _outcome(lambda: policy.policy_status(host, "health")),
    }
