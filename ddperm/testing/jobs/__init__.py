"""The twin's behaviour, one module per family of scripts (importing registers them)."""

from ddperm.testing.jobs import hyperv, system  # noqa: F401
