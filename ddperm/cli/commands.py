"""Imports every command module so each registers itself on ``app``."""

from ddperm.cli import call, demo, fleet, group, jobs, provision, serve, twin  # noqa: F401
