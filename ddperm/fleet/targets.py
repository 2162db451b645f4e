"""Who to audit: targets from a plain list, a CSV file, or an Ansible inventory.

Ansible inventories are read through ansible-core's own inventory and variable API
(extra ``ddperm[fleet]``), so groups, ``group_vars``/``host_vars`` and templated
values work as they do for Ansible. The variables used are the ones people already
keep for the ``psrp`` connection: ``ansible_host``, ``ansible_port``, ``ansible_user``,
``ansible_password`` and ``ansible_psrp_*`` (protocol, auth, cert_validation,
ca_cert / cert_trust_path, message_encryption, the three timeouts,
configuration_name, port, user, password).

Anything wrong with a source (missing, unparseable, an unknown CSV column, a bad value,
no hosts at all) raises ``InventoryError`` with one sentence naming the file and line or
host; for Ansible parse failures the sentence carries ansible-core's own warning text.
"""

from __future__ import annotations

import csv
import difflib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ddperm.errors import InventoryError
from ddperm.host import Host

Auth = Literal["negotiate", "ntlm", "kerberos", "basic", "certificate", "credssp"]
HTTP_PORT, HTTPS_PORT = 5985, 5986


class Target(BaseModel):
    """One machine to reach over WinRM/PSRP; credentials left empty come from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    server: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    ssl: bool = True
    auth: Auth = "negotiate"
    username: str | None = None
    password: SecretStr | None = None
    cert_validation: bool | str = True
    encryption: Literal["auto", "always", "never"] = "auto"
    operation_timeout: int = Field(default=20, ge=1)
    connection_timeout: int = Field(default=30, ge=1)
    read_timeout: int | None = Field(default=None, ge=1)
    configuration_name: str = "Microsoft.PowerShell"
    groups: tuple[str, ...] = ()

    def connect(self, *, deadline: float | None = None, **host_options: Any) -> Host:
        """A ``Host`` for this target; ``deadline`` caps every network timeout."""
        from ddperm.transports.psrp import connect

        cap = max(1, int(deadline)) if deadline is not None else None
        operation = min(self.operation_timeout, cap) if cap else self.operation_timeout
        return connect(
            self.server,
            port=self.port,
            ssl=self.ssl,
            auth=self.auth,
            username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            cert_validation=self.cert_validation,
            encryption=self.encryption,
            operation_timeout=operation,
            connection_timeout=min(self.connection_timeout, cap)
            if cap
            else self.connection_timeout,
            read_timeout=cap if cap else self.read_timeout,
            configuration_name=self.configuration_name,
            **host_options,
        )


def from_list(items: Iterable[str | Mapping[str, Any] | Target]) -> list[Target]:
    """Targets from ``"host"``, ``"host:port"``, dicts of Target fields, or Targets."""
    targets: list[Target] = []
    for index, item in enumerate(items, 1):
        if isinstance(item, Target):
            targets.append(item)
        elif isinstance(item, str):
            server, port = parse_address(item)
            targets.append(
                Target(name=item.strip(), server=server, port=port, ssl=port != HTTP_PORT)
            )
        else:
            data = dict(item)
            data.setdefault("name", data.get("server", ""))
            targets.append(_validated(data, f"target {index}"))
    return _unique(targets)


def _validated(data: Mapping[str, Any], where: str) -> Target:
    """``data`` as a Target, or InventoryError naming ``where`` and the first problem."""
    try:
        return Target.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "target"
        shown = "" if "password" in field else f" (got {error.get('input')!r})"
        raise InventoryError(f"{where}: {field}: {error['msg']}{shown}") from None


def parse_address(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (server, port or None)."""
    text = text.strip()
    if text.startswith("["):
        server, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        server, _, port = text.partition(":")
    else:
        server, port = text, ""
    if not server or (port and not port.isdigit()):
        raise InventoryError(f"not a host or host:port: {text!r}")
    return server, int(port) if port else None


_CSV_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def from_csv(path: str | Path) -> list[Target]:
    """Targets from a CSV with a header: ``server`` (or ``host``) and any Target field.

    ``groups`` is a ``;``-separated list; ``ssl`` takes true/false/yes/no/1/0; empty
    cells are left to the defaults.
    """
    targets: list[Target] = []
    with _opened(path) as handle:
        reader = csv.DictReader(handle)
        _check_columns(path, reader.fieldnames)
        for row in reader:
            data: dict[str, Any] = {k.strip(): v.strip() for k, v in row.items() if k and v}
            if "host" in data and "server" not in data:
                data["server"] = data.pop("host")
            for flag in ("ssl", "cert_validation"):
                if flag in data:
                    data[flag] = _CSV_BOOLS.get(data[flag].lower(), data[flag])
            if "groups" in data:
                data["groups"] = tuple(g for g in data["groups"].split(";") if g)
            data.setdefault("name", data.get("server", ""))
            targets.append(_validated(data, f"{path} line {reader.line_num}"))
    if not targets:
        raise InventoryError(f"{path} lists no hosts (a header and one row per host)")
    return _unique(targets)


@contextmanager
def _opened(path: str | Path) -> Iterator[Iterable[str]]:
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            yield handle
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InventoryError(f"cannot read {path}: {reason}") from exc


def _check_columns(path: str | Path, columns: Iterable[str | None] | None) -> None:
    if not columns:
        raise InventoryError(f"{path} is empty: it needs a header line, e.g. name,server,port")
    known = [*Target.model_fields, "host"]
    for column in columns:
        name = (column or "").strip()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InventoryError(
                f"{path}: unknown column {name!r}{hint}; known: {', '.join(known)}"
            )


def from_ansible(inventory: str | Path, *, pattern: str = "all") -> list[Target]:
    """Targets from an Ansible inventory (INI, YAML, or a folder), ``pattern`` as in Ansible."""
    try:
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar
        from ansible.vars.manager import VariableManager
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "Ansible inventories need ansible-core: pip install 'ddperm[fleet]'"
        ) from exc
    loader = DataLoader()
    with _ansible_warnings() as warnings:
        try:
            manager = InventoryManager(loader=loader, sources=[str(inventory)])
        except AnsibleError as exc:
            said = "; ".join(warnings) or _one_line(exc)
            raise InventoryError(f"ansible cannot parse {inventory}: {said}") from exc
    variables = VariableManager(loader=loader, inventory=manager)
    targets = []
    for host in manager.get_hosts(pattern):
        where = f"{inventory} host {host.name}"
        try:
            raw = variables.get_vars(host=host, include_hostvars=False)
            templar = Templar(loader=loader, variables=raw)
            values = {k: templar.template(v) for k, v in raw.items() if k.startswith("ansible_")}
            groups = tuple(sorted(g.name for g in host.get_groups() if g.name != "all"))
        except AnsibleError as exc:
            raise InventoryError(f"{where}: {_one_line(exc)}") from exc
        targets.append(_from_ansible_vars(host.name, values, groups, where))
    if not targets:
        raise InventoryError(f"{inventory} has no hosts matching {pattern!r}")
    return targets


_ansible_lock = threading.Lock()


@contextmanager
def _ansible_warnings() -> Iterator[list[str]]:
    """Collect what ansible-core would print as warnings, and fail on any unparsed source.

    ansible-core reports a source it cannot parse only as warnings on its ``Display``
    singleton; for this block they are collected instead of printed, and
    INVENTORY_ANY_UNPARSED_IS_FAILED makes the failure an AnsibleError.
    """
    from ansible import constants
    from ansible.utils.display import Display

    display, warnings = Display(), []

    def warning(msg: str, *_args: object, **_kwargs: object) -> None:
        warnings.append(_one_line(msg))

    def error_as_warning(msg: str | None, exception: BaseException, **_kwargs: object) -> None:
        warnings.append(_one_line(f"{msg or ''} {exception}"))

    with _ansible_lock:
        strict = constants.INVENTORY_ANY_UNPARSED_IS_FAILED
        constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True
        display.warning = warning
        display.error_as_warning = error_as_warning
        try:
            yield warnings
        finally:
            del display.warning, display.error_as_warning
            constants.INVENTORY_ANY_UNPARSED_IS_FAILED = strict


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _from_ansible_vars(
    name: str, v: Mapping[str, Any], groups: tuple[str, ...], where: str
) -> Target:
    def first(*keys: str) -> Any:
        return next((v[k] for k in keys if v.get(k) not in (None, "")), None)

    port = first("ansible_psrp_port", "ansible_port")
    if port is not None and not str(port).strip().isdigit():
        raise InventoryError(f"{where}: ansible_port must be a number, got {port!r}")
    protocol = first("ansible_psrp_protocol")
    ssl = protocol == "https" if protocol else port is None or int(port) != HTTP_PORT
    validation = first("ansible_psrp_cert_validation")
    ca_cert = first("ansible_psrp_ca_cert", "ansible_psrp_cert_trust_path")
    cert_validation: bool | str = validation != "ignore"
    if cert_validation and ca_cert:
        cert_validation = str(ca_cert)
    data: dict[str, Any] = {
        "name": name,
        "server": first("ansible_host") or name,
        "port": int(port) if port else None,
        "ssl": ssl,
        "username": first("ansible_psrp_user", "ansible_user"),
        "password": first("ansible_psrp_password", "ansible_psrp_pass", "ansible_password"),
        "cert_validation": cert_validation,
        "groups": groups,
    }
    for field, key in (
        ("auth", "ansible_psrp_auth"),
        ("encryption", "ansible_psrp_message_encryption"),
        ("operation_timeout", "ansible_psrp_operation_timeout"),
        ("connection_timeout", "ansible_psrp_connection_timeout"),
        ("read_timeout", "ansible_psrp_read_timeout"),
        ("configuration_name", "ansible_psrp_configuration_name"),
    ):
        if first(key) is not None:
            data[field] = first(key)
    return _validated({k: val for k, val in data.items() if val is not None}, where)


def load_targets(source: str | Path | Iterable[str | Mapping[str, Any] | Target]) -> list[Target]:
    """Targets from a list, a ``.csv`` file, or an Ansible inventory file or folder.

    A file that is missing, unparseable or lists no host raises ``InventoryError``.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise InventoryError(f"no inventory at {path}: the file does not exist")
        return from_csv(path) if path.suffix.lower() == ".csv" else from_ansible(path)
    return from_list(source)


def _unique(targets: list[Target]) -> list[Target]:
    seen: set[str] = set()
    for target in targets:
        if target.name in seen:
            raise InventoryError(f"two targets are named {target.name!r}")
        seen.add(target.name)
    return targets
