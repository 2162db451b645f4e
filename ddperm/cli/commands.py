"""Imports every command module so each registers itself on ``app``."""

import ddperm.cli.conformance  # noqa: F401
from ddperm.cli import call, demo, fleet, group, provision, serve, twin  # noqa: F401
