"""The privileged helper as a service: a narrow request API on a protected pipe or socket.

``ddperm serve`` runs it; ``Client`` (or ``ddperm call ROUTE``) asks it to do one
of its fixed jobs (``ROUTES``). Only administrators and members of the service
group (docker-users) may connect; every request is validated before anything
runs and written to the audit log.
"""

from ddperm.service.admission import Limits
from ddperm.service.audit import AuditLog
from ddperm.service.client import Client, ServiceError
from ddperm.service.errors import ServiceStartError
from ddperm.service.listen import HostFactory, running
from ddperm.service.routes import ROUTES
from ddperm.service.server import DEFAULT_GROUP, Service

__all__ = [
    "DEFAULT_GROUP",
    "ROUTES",
    "AuditLog",
    "Client",
    "HostFactory",
    "Limits",
    "Service",
    "ServiceError",
    "ServiceStartError",
    "running",
]
