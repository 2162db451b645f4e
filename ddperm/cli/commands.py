"""Imports every command module so each registers itself on ``app``."""

from ddperm.cli import (  # noqa: F401
    call,
    conformance,
    demo,
    fleet,
    group,
    jea,
    jobs,
    provision,
    schema,
    serve,
    service,
    twin,
)
