"""The twin over the wire: a FakeHost served as a WinRM (WS-Man + PSRP) endpoint.

Layers, each unaware of the one above: ``soap`` (WS-Man envelopes and faults),
``shell`` (PSRP via psrpcore's server side), ``service`` (WS-Man shell actions on
PSRP shells), ``auth`` and ``server`` (HTTP), and ``bridge`` (script text and
parameters to ``FakeHost.execute``).
"""

from ddperm.testing.winrm.faults import Fault, FaultPlan
from ddperm.testing.winrm.server import Endpoint, serve
from ddperm.testing.winrm.shared import shared_endpoint

__all__ = ["Endpoint", "Fault", "FaultPlan", "serve", "shared_endpoint"]
