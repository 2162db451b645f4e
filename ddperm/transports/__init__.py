"""Runners that reach a Windows host: PSRP over WinRM (``connect``) and, beside it, local."""

from ddperm.transports.psrp import PSRPRunner, connect

__all__ = ["PSRPRunner", "connect"]
