"""Imports every command module so each registers itself on ``app``."""

from ddperm.cli import demo  # noqa: F401
