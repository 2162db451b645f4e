"""Keeps the wire libraries' DEBUG records out of logs unless DDPERM_LOG_WIRE=1.

At DEBUG, pypsrp, spnego, requests-credssp and urllib3 log authentication tokens
(NTLM messages) and whole WS-Man messages (script text, parameters). Turning on
DEBUG for ddperm should not leak them, so a filter drops those records; set the
environment variable ``DDPERM_LOG_WIRE=1`` to let them through when debugging the
wire itself. Their INFO and higher records always pass.
"""

from __future__ import annotations

import logging
import os

WIRE_LOGGERS = ("pypsrp", "spnego", "requests_credssp", "urllib3")


class WireDebugFilter(logging.Filter):
    """Drops DEBUG (and lower) records unless DDPERM_LOG_WIRE=1 (read per record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG or os.environ.get("DDPERM_LOG_WIRE") == "1"


WIRE_FILTER = WireDebugFilter()


def install() -> None:
    """Put the filter on the wire libraries' loggers and every child logger they made.

    A logger's filter only sees records logged on that very logger, not on its
    children, so it goes on each (the libraries create theirs at import).
    """
    existing = list(logging.root.manager.loggerDict)
    for name in [*WIRE_LOGGERS, *existing]:
        if name.split(".", 1)[0] in WIRE_LOGGERS:
            logger = logging.getLogger(name)
            if WIRE_FILTER not in logger.filters:
                logger.addFilter(WIRE_FILTER)
