"""A second WS-Man/PSRP endpoint, written apart from ddperm's twin (ddperm.testing.winrm):
its own HTTP, SOAP and shell code, psrpcore for the PSRP messages, a FakeHost for answers.

It serves only what ddperm's client needs (Basic auth over http; shell Create, Command,
Send, Receive, Signal and Delete for one runspace pool), so the client is checked against a
server that does not share the twin's quirks. It lives under tests/ because that is its
only use: it is not part of the package users install.
"""

from tests.independent_wsman.endpoint import Independent, serve

__all__ = ["Independent", "serve"]
