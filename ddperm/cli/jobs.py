"""One command per job, to act on what ``ddperm health`` reports.

``ddperm vm|hosts|engine|policy|vhd ACTION HOST``: each takes the connection options
of ``ddperm health``, runs one job on HOST over WinRM and prints its result model as a
table (or ``--json``). A job the host refuses exits 4; the guard refusing an argument
exits 2 before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from ddperm.cli import app
from ddperm.cli.connection import AsJson, HostArg, connected
from ddperm.cli.output import show
from ddperm.components import engine, vm
from ddperm.components.policy import RegistryPolicy
from ddperm.fleet import Target
from ddperm.host import Host
from ddperm.service.protocol import summarize

M = TypeVar("M", bound=BaseModel)

APPS = {
    "vm": typer.Typer(help="DockerDesktopVM: info, start, stop.", no_args_is_help=True),
    "hosts": typer.Typer(help="The kubernetes.docker.internal hosts entry.", no_args_is_help=True),
    "engine": typer.Typer(help="The Windows Docker engine service.", no_args_is_help=True),
    "policy": typer.Typer(
        help="The Registry Access Management policy cache.", no_args_is_help=True
    ),
    "vhd": typer.Typer(help="DockerDesktopVM's disk: size, move.", no_args_is_help=True),
}
for _name, _group in APPS.items():
    app.add_typer(_group, name=_name)

EngineTimeout = Annotated[
    int, typer.Option(min=1, max=engine.MAX_TIMEOUT, help="Seconds to wait for the service.")
]
StopTimeout = Annotated[
    int, typer.Option(min=1, max=vm.MAX_STOP_TIMEOUT, help="Seconds for a guest shutdown.")
]


def run(target: Target, title: str, job: Callable[[Host], BaseModel], as_json: bool) -> None:
    """Run ``job`` on the target and print its result."""
    with target.connect() as host:
        result = job(host)
    show(result, title=f"{target.name}: {title}", as_json=as_json)


def read_model(path: Path, model: type[M], option: str) -> M:
    """``model`` from the JSON file at ``path``; a bad file is a usage error naming ``option``."""
    try:
        return model.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise typer.BadParameter(f"{path}: {summarize(exc)}", param_hint=f"'{option}'") from None


def plain(group: str, name: str, summary: str, job: Callable[[Host], BaseModel]) -> None:
    """Register ``ddperm GROUP NAME HOST [--json]``: a job without options of its own."""

    def command(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
        run(target, f"{group} {name}", job, as_json)

    command.__doc__ = summary
    APPS[group].command(name)(connected(command))


def engine_change(name: str, summary: str, change: Callable[[Host, int], BaseModel]) -> None:
    """Register ``ddperm engine NAME HOST [--timeout N]``."""

    def command(
        host: HostArg,
        timeout: EngineTimeout = engine.DEFAULT_TIMEOUT,
        as_json: AsJson = False,
        *,
        target: Target,
    ) -> None:
        run(target, f"engine {name}", lambda h: change(h, timeout), as_json)

    command.__doc__ = summary
    APPS["engine"].command(name)(connected(command))


plain(
    "vm",
    "info",
    "DockerDesktopVM as Hyper-V reports it (vm: - when it does not exist).",
    lambda h: vm.VMInfoResult(vm=h.vm.info()),
)
plain(
    "vm", "start", "Start DockerDesktopVM (nothing changes when it runs).", lambda h: h.vm.start()
)
plain(
    "hosts",
    "status",
    "Whether the hosts file has ddperm's kubernetes.docker.internal section.",
    lambda h: h.hosts_file.status(),
)
plain(
    "hosts",
    "ensure",
    "Write the kubernetes.docker.internal section (no byte changes when it is there).",
    lambda h: h.hosts_file.ensure(),
)
plain(
    "engine",
    "status",
    "Whether the Windows Docker engine service is installed and running.",
    lambda h: h.engine.status(),
)
engine_change(
    "start",
    "Start the Windows Docker engine (nothing changes when it runs).",
    lambda h, timeout: h.engine.start(timeout=timeout),
)
engine_change(
    "stop",
    "Stop the Windows Docker engine (nothing changes when it is stopped).",
    lambda h, timeout: h.engine.stop(timeout=timeout),
)
plain(
    "policy",
    "status",
    "The policy cache's state (problem names what is wrong).",
    lambda h: h.policy.status(),
)
plain(
    "policy",
    "read",
    "The cached policy, checked (owner, ACL, hash); fails closed (exit 4).",
    lambda h: h.policy.read(),
)
plain(
    "vhd",
    "size",
    "The size of DockerDesktopVM's disk (what the guest sees, what the file takes).",
    lambda h: h.vhd.size(),
)


@APPS["vm"].command("stop")
@connected
def vm_stop(
    host: HostArg,
    force: Annotated[
        bool,
        typer.Option("--force", help="Turn it off if the shutdown does not finish in time."),
    ] = False,
    timeout: StopTimeout = vm.DEFAULT_STOP_TIMEOUT,
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Stop DockerDesktopVM: a guest shutdown within --timeout seconds."""
    run(target, "vm stop", lambda h: h.vm.stop(force=force, timeout=timeout), as_json)


PolicyFile = Annotated[
    Path,
    typer.Option(
        "--file",
        exists=True,
        dir_okay=False,
        readable=True,
        help='JSON: {"organization", "allowed_registries": [...], "fetched_at"}.',
        show_default=False,
    ),
]


@APPS["policy"].command("cache")
@connected
def policy_cache(
    host: HostArg, file: PolicyFile, as_json: AsJson = False, *, target: Target
) -> None:
    """Cache the organization's policy from --file (administrators only)."""
    policy = read_model(file, RegistryPolicy, "--file")
    run(target, "policy cache", lambda h: h.policy.cache(policy), as_json)


@APPS["vhd"].command("move")
@connected
def vhd_move(
    host: HostArg,
    destination: Annotated[
        str,
        typer.Argument(
            metavar="DESTINATION", help="A folder or a .vhdx path on HOST.", show_default=False
        ),
    ],
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Move DockerDesktopVM's disk to DESTINATION and repoint the VM (the VM must be off)."""
    run(target, "vhd move", lambda h: h.vhd.move(destination), as_json)
