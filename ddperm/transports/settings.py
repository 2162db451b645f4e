"""Transport settings checked before anything is sent (``connect()``, ``local()``): one
``ConfigurationError`` sentence per mistake, instead of a pypsrp ``ValueError`` or a
failure at the first call."""

from __future__ import annotations

import difflib
import functools
import importlib.util
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pypsrp.wsman import AUTH_KWARGS, WSMan

from ddperm.errors import ConfigurationError

AUTHS = ("negotiate", "ntlm", "kerberos", "basic", "certificate", "credssp")
ENCRYPTIONS = ("auto", "always", "never")
_ENCRYPTING = frozenset({"negotiate", "ntlm", "kerberos", "credssp"})
_EXTRAS = {"kerberos": "gssapi", "credssp": "requests_credssp"}
_OWN = frozenset(
    {"port", "ssl", "auth", "username", "password", "cert_validation", "encryption"}
    | {"operation_timeout", "connection_timeout", "read_timeout"}
)
USER_HINT = "pass username= (CLI: --user) or set DDPERM_USERNAME"
PW_HINT = "pass password= (CLI: --password or --ask-password) or set DDPERM_PASSWORD"


@functools.cache
def _extra_options() -> frozenset[str]:
    """Keyword options pypsrp's WSMan takes besides the ones ``connect()`` names."""
    names = set(inspect.signature(WSMan.__init__).parameters) - {"self", "server", "kwargs"}
    names.update(name for group in AUTH_KWARGS.values() for name in group)
    return frozenset(names - _OWN)


def check_server(server: str | None) -> str:
    """The server name, or ConfigurationError when there is none or it is not a name."""
    if not isinstance(server, str) or not server.strip():
        raise ConfigurationError("no server given: pass server= or set DDPERM_HOST")
    if any(c.isspace() for c in server.strip()):
        raise ConfigurationError(f"server must be a host name or address, got {server!r}")
    return server.strip()


def check_options(options: Mapping[str, Any]) -> None:
    """Raise ConfigurationError for the first setting that cannot work (see module doc)."""
    auth, encryption, ssl = options["auth"], options["encryption"], options["ssl"]
    _one_of("auth", auth, AUTHS)
    _one_of("encryption", encryption, ENCRYPTIONS)
    port = options["port"]
    if port is not None and (type(port) is not int or not 1 <= port <= 65535):
        raise ConfigurationError(f"port must be a number from 1 to 65535, got {port!r}")
    for name in ("operation_timeout", "connection_timeout", "read_timeout"):
        check_seconds(name, options[name])
    unknown = sorted(set(options) - _OWN - _extra_options())
    if unknown:
        raise ConfigurationError(f"unknown connection option {unknown[0]!r}")
    _check_encryption(auth, encryption, ssl)
    _check_credentials(auth, options)
    _check_files(options)
    module = _EXTRAS.get(auth)
    if module and sys.platform != "win32" and importlib.util.find_spec(module) is None:
        raise ConfigurationError(
            f"{auth} auth needs the ddperm[{auth}] extra: pip install 'ddperm[{auth}]'"
        )


def check_seconds(name: str, value: object) -> None:
    """A timeout must be a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value in allowed:
        return
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {value!r}{hint}")


def _check_encryption(auth: str, encryption: str, ssl: bool) -> None:
    if auth in _ENCRYPTING:
        return
    if auth == "certificate" and not ssl:
        raise ConfigurationError("certificate auth needs HTTPS: use ssl=True (CLI: --https)")
    if encryption == "always":
        raise ConfigurationError(
            f"{auth} auth cannot encrypt messages itself: use encryption='auto' over HTTPS"
        )
    if not ssl and encryption != "never":
        raise ConfigurationError(
            f"{auth} auth over HTTP cannot encrypt messages: use ssl=True (HTTPS), an auth"
            " that encrypts (negotiate, ntlm, kerberos, credssp), or encryption='never'"
            " (CLI: --encryption never) to send everything in the clear"
        )


def _check_credentials(auth: str, options: Mapping[str, Any]) -> None:
    if auth in ("basic", "credssp"):
        if not options["username"]:
            raise ConfigurationError(f"{auth} auth needs a user name: {USER_HINT}")
        if options["password"] is None:
            raise ConfigurationError(f"{auth} auth needs a password: {PW_HINT}")
    no_logon = sys.platform != "win32" and not os.environ.get("NTLM_USER_FILE")
    if auth == "ntlm" and no_logon and not options["username"]:
        raise ConfigurationError(
            "ntlm auth needs a user name here (no Windows logon or NTLM_USER_FILE to take"
            f" it from): {USER_HINT}"
        )
    if auth == "certificate":
        for name in ("certificate_pem", "certificate_key_pem"):
            if not options.get(name):
                raise ConfigurationError(f"certificate auth needs {name}= (a PEM file path)")


def _check_files(options: Mapping[str, Any]) -> None:
    validation = options["cert_validation"]
    if not isinstance(validation, (bool, str)):
        raise ConfigurationError(
            f"cert_validation must be True, False or a CA bundle path, got {validation!r}"
        )
    named = {"cert_validation": validation if isinstance(validation, str) else None}
    named |= {name: options.get(name) for name in ("certificate_pem", "certificate_key_pem")}
    for name, path in named.items():
        if path is not None and (not path or not Path(path).exists()):
            raise ConfigurationError(f"{name} names a file that does not exist: {path!r}")
