"""What changes when PowerShell 7 ("Core", on .NET) runs ddperm's scripts instead of Windows
PowerShell 5.1 ("Desktop", on .NET Framework): ``FakeHost.edition``.

The twin does not run PowerShell, so a difference that depends on how a script is written is
decided from the vetted text itself (the same text the twin identified by its SHA-256):

- ``FileInfo``/``DirectoryInfo`` ``.GetAccessControl()``/``.SetAccessControl()`` are instance
  methods on .NET Framework only. On .NET they are extension methods of
  ``System.IO.FileSystemAclExtensions``, which PowerShell does not bind to the object, so
  the call fails with ``MethodNotFound`` (a ``RuntimeException``, category InvalidOperation).
- ``ConvertFrom-Json`` is Json.NET on Core with its default ``DateParseHandling.DateTime``: a
  string shaped like an ISO-8601 time (or ``/Date(n)/``) comes back as ``[datetime]``
  (``-DateKind String`` exists only from 7.5). 5.1's JavaScriptSerializer keeps it a string.
  A text that reads JSON through ``System.Text.Json`` on Core is not affected.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ddperm.scripts import default_registry
from ddperm.testing.errors import ErrorRecord

if TYPE_CHECKING:
    from ddperm.testing.fakehost import FakeHost

_INSTANCE_ACL_CALL = re.compile(r"\.(Get|Set)AccessControl\(", re.IGNORECASE)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?(Z|[+-]\d\d:\d\d)?", re.ASCII
)
_MICROSOFT = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/", re.ASCII)


@functools.lru_cache(maxsize=64)
def script_text(name: str) -> str:
    """The vetted text of job script ``name``, libraries included."""
    return default_registry().get(name).text


def acl_method_missing(host: FakeHost, text: str, owner: str = "System.IO.DirectoryInfo") -> None:
    """Raise what PowerShell 7 raises at a script's first ``.GetAccessControl(`` or
    ``.SetAccessControl(`` instance call (``owner`` is the object it is called on)."""
    found = _INSTANCE_ACL_CALL.search(text)
    if host.edition == "Core" and found:
        method = found.group(0)[1:-1]
        raise ErrorRecord(
            f"Method invocation failed because [{owner}] does not contain a method named "
            f"'{method}'.",
            "MethodNotFound",
            "InvalidOperation",
            method,
            "System.Management.Automation.RuntimeException",
        )


def dates_parsed(host: FakeHost, text: str) -> bool:
    """Whether JSON this text reads with ``ConvertFrom-Json`` comes back with dates parsed."""
    return host.edition == "Core" and "ConvertFrom-Json" in text and "System.Text.Json" not in text


def json_net_date(value: str) -> datetime | None:
    """The ``[datetime]`` Json.NET reads from a JSON string, or None when it stays a string
    (DateTimeUtils.TryParseDateTime: 19 to 40 characters, a digit first, 'T' at index 10)."""
    try:
        if value.startswith("/"):
            found = _MICROSOFT.fullmatch(value)
            if found:
                return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
                    milliseconds=int(found.group(1))
                )
            return None
        found = _ISO.fullmatch(value)
        if not (19 <= len(value) <= 40 and value[0].isdigit() and value[10:11] == "T" and found):
            return None
        year, month, day, hour, minute, second = (int(g) for g in found.groups()[:6])
        ticks = int((found.group(7) or "0").ljust(7, "0"))
        zone = found.group(8)
        offset = timedelta(0)
        if zone and zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            offset = -offset if zone[0] == "-" else offset
        return datetime(
            year, month, day, hour, minute, second, ticks // 10, timezone(offset)
        ).astimezone(timezone.utc)
    except ValueError:  # 2026-02-30T...: not a date, a string
        return None


def convert_from_json(host: FakeHost, script: str, text: str) -> Any:
    """``ConvertFrom-Json`` as the edition running ``script`` does it (``json.loads`` errors
    propagate as ``ValueError``)."""
    value = json.loads(text)
    return _with_dates(value) if dates_parsed(host, script_text(script)) else value


def _with_dates(value: Any) -> Any:
    if isinstance(value, str):
        return json_net_date(value) or value
    if isinstance(value, list):
        return [_with_dates(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_dates(item) for key, item in value.items()}
    return value


def wrapper_parameters(host: FakeHost, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters the local wrapper splats, as the edition running it reads them: under
    PowerShell 7 with ``ConvertFrom-Json``, a date-shaped string reaches a ``[string]``
    parameter as the ``[datetime]`` converted back to text with the invariant culture
    (ArgumentTypeConverterAttribute), e.g. ``11/23/2026 09:30:15``."""
    from ddperm.transports.local import wrapper_text

    if not dates_parsed(host, wrapper_text()):
        return parameters
    return {name: _as_bound_text(value) for name, value in parameters.items()}


def _as_bound_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_bound_text(item) for item in value]
    parsed = json_net_date(value) if isinstance(value, str) else None
    return value if parsed is None else parsed.strftime("%m/%d/%Y %H:%M:%S")
