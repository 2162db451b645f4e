"""Imports every command module so each registers itself on ``app``."""

from ddperm.cli import call, demo, fleet, group, provision, serve, service, twin  # noqa: F401
