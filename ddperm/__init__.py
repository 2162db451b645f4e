"""ddperm: Docker Desktop's privileged Windows helper as a Python library.

Every job is a vetted PowerShell script, run locally or over PowerShell Remoting,
with inputs checked by a guard and answers validated as pydantic models.
"""

import logging

from ddperm.components.policy import RegistryPolicy
from ddperm.components.system import ddperm_version
from ddperm.components.vm import VMSpec
from ddperm.errors import (
    AuthenticationError,
    ConfigurationError,
    DdpermError,
    HostError,
    OutputError,
    PolicyError,
    TLSError,
    TransportError,
)
from ddperm.guard import VM_NAME
from ddperm.host import Host
from ddperm.retry import RetryPolicy
from ddperm.transports.local import local
from ddperm.transports.psrp import connect

__version__ = ddperm_version()
logging.getLogger("ddperm").addHandler(logging.NullHandler())  # the application decides

__all__ = [
    "VM_NAME",
    "AuthenticationError",
    "ConfigurationError",
    "DdpermError",
    "Host",
    "HostError",
    "OutputError",
    "PolicyError",
    "RegistryPolicy",
    "RetryPolicy",
    "TLSError",
    "TransportError",
    "VMSpec",
    "connect",
    "local",
]
