"""A throwaway MIT Kerberos realm on loopback, for testing Kerberos against the twin.

    with start_realm(folder) as realm:
        user = realm.add_principal("ddperm", "Passw0rd")
        keytab = realm.host_keytab("localhost")      # the twin's computer account
        with serve(fake, keytab=keytab): ...          # with realm.environ in os.environ

Everything lives in ``folder``: krb5.conf, kdc.conf, the database, the ticket cache and
the KDC's log. The KDC (``krb5kdc``) listens on a free port of 127.0.0.1 only; principals
are made with ``kadmin.local`` on the database directly, so no kadmind runs. Needs Debian's
krb5-kdc, krb5-admin-server and krb5-user; ``KerberosUnavailable`` says what is missing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

REALM = "DDPERM.TEST"
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")
SPN_SERVICES = ("HTTP", "host")
"""The services a Windows computer account answers for: WinRM asks for HTTP/<host>, which
Active Directory maps to the account's HOST/<host> (sPNMappings); pypsrp asks for host/."""
_START_SECONDS = 10.0
_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
"""kadmin.local, kdb5_util and krb5kdc live in sbin, which a non-root PATH may lack."""


class KerberosUnavailable(RuntimeError):
    """A KDC cannot run here; the message says why (tests skip with it)."""


@dataclass(frozen=True)
class Realm:
    """A running realm: its name, folder, KDC port and the environment that points at it."""

    name: str
    folder: Path
    port: int

    @property
    def environ(self) -> dict[str, str]:
        """KRB5_CONFIG, KRB5_KDC_PROFILE and KRB5CCNAME for this realm."""
        return {
            "KRB5_CONFIG": str(self.folder / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(self.folder / "kdc.conf"),
            "KRB5CCNAME": f"FILE:{self.folder / 'ccache'}",
        }

    def add_principal(
        self, name: str, password: str | None = None, *, max_life: str | None = None
    ) -> str:
        """Create ``name`` (a random key when no password); returns ``name@REALM``."""
        principal = f"{name}@{self.name}"
        options = ["-pw", password] if password is not None else ["-randkey"]
        if max_life is not None:
            options += ["-maxlife", max_life]
        self.admin("addprinc", *options, principal)
        return principal

    def host_keytab(self, host: str) -> Path:
        """A keytab holding the keys of HTTP/<host> and host/<host>, as a computer account."""
        keytab = self.folder / f"{host}.keytab"
        for service in SPN_SERVICES:
            principal = self.add_principal(f"{service}/{host}")
            self.admin("ktadd", "-k", str(keytab), principal)
        return keytab

    def kinit(self, principal: str, password: str, *, lifetime: str | None = None) -> None:
        """Put a ticket for ``principal`` in this realm's ticket cache (KRB5CCNAME)."""
        self.run(["kinit", *(["-l", lifetime] if lifetime else []), principal], stdin=password)

    def has_valid_ticket(self) -> bool:
        """Whether the ticket cache holds a ticket that has not expired (``klist -s``)."""
        return self.run(["klist", "-s"], check=False).returncode == 0

    def admin(self, *query: str) -> None:
        self.run(["kadmin.local", "-r", self.name, "-q", " ".join(_quote(q) for q in query)])

    def run(
        self, command: list[str], *, stdin: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command,
            input=stdin + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": _PATH, **self.environ},
            timeout=30,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stderr.strip()}")
        return done


@contextmanager
def start_realm(folder: Path, name: str = REALM) -> Iterator[Realm]:
    """Create realm ``name`` in ``folder`` and run its KDC until the block ends."""
    missing = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]
    if missing:
        raise KerberosUnavailable(
            f"MIT Kerberos tools missing: {', '.join(missing)} (scripts/system-packages.sh"
            " installs krb5-kdc, krb5-admin-server and krb5-user)"
        )
    realm = Realm(name, folder, _free_port())
    _write_config(realm)
    try:
        realm.run(["kdb5_util", "-r", name, "create", "-s", "-P", secrets.token_hex(16)])
    except RuntimeError as exc:
        raise KerberosUnavailable(f"cannot create a Kerberos database: {exc}") from exc
    kdc = subprocess.Popen(
        ["krb5kdc", "-n", "-r", name],
        env={**os.environ, "PATH": _PATH, **realm.environ},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(kdc, realm)
        yield realm
    finally:
        kdc.terminate()
        with suppress(subprocess.TimeoutExpired):
            kdc.wait(timeout=10)
        if kdc.poll() is None:
            kdc.kill()
            kdc.wait()


def _quote(word: str) -> str:
    return word if word and all(c.isalnum() or c in "-_/@.:" for c in word) else f'"{word}"'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_config(realm: Realm) -> None:
    folder, name, port = realm.folder, realm.name, realm.port
    (folder / "krb5.conf").write_text(
        "[libdefaults]\n"
        f" default_realm = {name}\n"
        " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
        " dns_canonicalize_hostname = false\n rdns = false\n"
        " udp_preference_limit = 1\n"  # TCP first (UDP would cut large tickets short)
        f"[realms]\n {name} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
        f"[domain_realm]\n localhost = {name}\n",
        encoding="utf-8",
    )
    (folder / "kdc.conf").write_text(
        f"[kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n"
        f"[realms]\n {name} = {{\n"
        f"  database_name = {folder / 'principal'}\n"
        f"  key_stash_file = {folder / 'stash'}\n"
        f"  acl_file = {folder / 'kadm5.acl'}\n"
        "  max_life = 10h\n"
        "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
        " }\n"
        f"[logging]\n kdc = FILE:{folder / 'kdc.log'}\n",
        encoding="utf-8",
    )
    (folder / "kadm5.acl").write_text("", encoding="utf-8")


def _wait_listening(kdc: subprocess.Popen[bytes], realm: Realm) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if kdc.poll() is not None:
            log = realm.folder / "kdc.log"
            tail = log.read_text(encoding="utf-8")[-400:] if log.exists() else ""
            raise KerberosUnavailable(f"krb5kdc exited with {kdc.returncode}: {tail.strip()}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", realm.port), timeout=1):
            return
        time.sleep(0.05)
    raise KerberosUnavailable(f"krb5kdc did not listen on 127.0.0.1:{realm.port} in time")
