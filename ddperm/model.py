"""Base class of every model ddperm parses from a host or accepts from a caller."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class HostModel(BaseModel):
    """Strict, immutable, and unknown fields are an error (a script and its model must agree)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
