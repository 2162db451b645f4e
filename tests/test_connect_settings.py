"""Settings that cannot work are refused by ``connect()`` itself, with one
ConfigurationError sentence, before anything is sent (``local()``: test_local_runner)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

import ddperm
from ddperm.errors import ConfigurationError

BASE = {"server": "pc01.example.com", "auth": "ntlm", "username": "dev", "password": "pw"}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("auth typo", {"auth": "ntml"}, r"auth must be one of .* got 'ntml' \(did you mean 'ntlm'\?\)"),
    ("encryption", {"encryption": "sometimes"}, r"encryption must be one of auto, always, never"),
    (
        "basic over http",
        {"auth": "basic", "ssl": False},
        r"basic auth over HTTP cannot encrypt messages: .* encryption='never'",
    ),
    (
        "basic with encryption always",
        {"auth": "basic", "encryption": "always"},
        r"basic auth cannot encrypt messages itself",
    ),
    (
        "certificate over http",
        {"auth": "certificate", "ssl": False, "encryption": "never"},
        r"certificate auth needs HTTPS",
    ),
    (
        "certificate without its files",
        {"auth": "certificate"},
        r"certificate auth needs certificate_pem=",
    ),
    ("basic without user", {"auth": "basic", "username": None}, r"basic auth needs a user name"),
    ("credssp without user", {"auth": "credssp", "username": None}, r"credssp auth needs a user"),
    ("basic without password", {"auth": "basic", "password": None}, r"basic auth needs a password"),
    ("ntlm without user", {"username": None}, r"ntlm auth needs a user name here"),
    ("port too big", {"port": 70000}, r"port must be a number from 1 to 65535, got 70000"),
    ("port zero", {"port": 0}, r"port must be a number from 1 to 65535, got 0"),
    ("port negative", {"port": -1}, r"port must be a number from 1 to 65535, got -1"),
    ("port as text", {"port": "5985"}, r"port must be a number from 1 to 65535, got '5985'"),
    ("empty server", {"server": ""}, r"no server given: pass server= or set DDPERM_HOST"),
    ("blank server", {"server": "   "}, r"no server given"),
    ("server with a space", {"server": "pc 01"}, r"server must be a host name or address"),
    (
        "missing CA bundle",
        {"cert_validation": "/no/such/ca.pem"},
        r"cert_validation names a file that does not exist: '/no/such/ca\.pem'",
    ),
    ("empty CA bundle path", {"cert_validation": ""}, r"names a file that does not exist: ''"),
    ("CA bundle not a path", {"cert_validation": 3}, r"cert_validation must be True, False or"),
    ("zero timeout", {"operation_timeout": 0}, r"operation_timeout must be a positive number"),
    ("negative timeout", {"read_timeout": -1}, r"read_timeout must be a positive number"),
    ("option typo", {"certficate_pem": "c.pem"}, r"unknown connection option 'certficate_pem'"),
    ("no endpoint name", {"configuration_name": ""}, r"configuration_name must name"),
]


@pytest.mark.parametrize(("changes", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_connect_refuses_settings_that_cannot_work(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    for name in ("DDPERM_HOST", "DDPERM_USERNAME", "DDPERM_PASSWORD", "NTLM_USER_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=message) as refused:
        ddperm.connect(**(BASE | changes))
    assert isinstance(refused.value, ValueError)
    assert "\n" not in str(refused.value)


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name in ("gssapi", "requests_credssp") else real(name, *args),
    )
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(ConfigurationError, match=r"pip install 'ddperm\[kerberos\]'"):
        ddperm.connect(**(BASE | {"auth": "kerberos"}))
    with pytest.raises(ConfigurationError, match=r"pip install 'ddperm\[credssp\]'"):
        ddperm.connect(**(BASE | {"auth": "credssp"}))


def test_settings_that_can_work_are_accepted(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    for changes in (
        {},
        {"auth": "basic", "encryption": "never", "ssl": False, "port": 5985},
        {"auth": "basic", "cert_validation": str(bundle), "port": 65535},
        {"auth": "negotiate", "username": None, "password": None},
        {"operation_timeout": 5, "read_timeout": 5, "negotiate_send_cbt": False},
    ):
        with ddperm.connect(**(BASE | changes)) as host:  # the pool opens on the first call
            assert host.runner is not None
