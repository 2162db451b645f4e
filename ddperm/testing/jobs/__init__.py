"""The twin's behaviour, one module per family of scripts (importing registers them)."""

from ddperm.testing.jobs import checks, engine, health, hosts_file, hyperv, system  # noqa: F401
