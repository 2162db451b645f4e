"""Takes names out of a report before it is attached to a public bug report.

Replaced, case-insensitively and as whole words: computer and host names (``<computer>``,
``<host>``), user names (``<user>``) and the domain part of ``DOMAIN\\user``
(``<domain>``); the machine or domain part of every account SID
(``S-1-5-21-<domain>-1001``: the RID, which says "built-in" or "user", stays); and the
folder name in every path under a user profile (``C:\\Users\\<user>\\...``).
Credentials never reach a report: the kit is given none, and asks for no values that
could hold one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ddperm.conformance.report import ConformanceReport

_SID = re.compile(r"\bS-1-5-21-\d+-\d+-\d+(?=-\d+\b)", re.IGNORECASE)
_PROFILE = re.compile(r"\b([A-Za-z]:\\(?:Users|Documents and Settings)\\)[^\\/\"'\s]+", re.I)
_SHORTEST = 2  # one letter would blank out words of every message


class Redactor:
    """Replaces the given names, account SIDs' domain parts and profile folders."""

    def __init__(
        self,
        *,
        computers: Iterable[str] = (),
        hosts: Iterable[str] = (),
        users: Iterable[str] = (),
    ) -> None:
        computer_names = {c.lower() for c in computers}
        terms: dict[str, str] = {}
        for user in users:
            domain, _, name = user.rpartition("\\")
            terms[name.lower()] = "<user>"
            if domain:
                is_machine = domain.lower() in computer_names
                terms[domain.lower()] = "<computer>" if is_machine else "<domain>"
        terms |= {h.lower(): "<host>" for h in hosts}
        terms |= {c: "<computer>" for c in computer_names}
        usable = sorted((t for t in terms if len(t) >= _SHORTEST), key=len, reverse=True)
        self._terms = terms
        self._names = (
            re.compile(
                r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, usable)) + r")(?![A-Za-z0-9])",
                re.IGNORECASE,
            )
            if usable
            else None
        )

    def text(self, value: str) -> str:
        value = _SID.sub("S-1-5-21-<domain>", value)
        value = _PROFILE.sub(r"\1<user>", value)
        if self._names is not None:
            value = self._names.sub(lambda m: self._terms[m[1].lower()], value)
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def report(self, report: ConformanceReport) -> ConformanceReport:
        data = self.value(report.model_dump(mode="json"))
        data["redacted"] = True
        return ConformanceReport.model_validate(data)
