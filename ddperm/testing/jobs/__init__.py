"""The twin's behaviour, one module per family of scripts (importing registers them)."""

from ddperm.testing.jobs import (  # noqa: F401
    checks,
    engine,
    health,
    hosts_file,
    hyperv,
    jea,
    policy,
    setup,
    system,
    windows_containers,
)
