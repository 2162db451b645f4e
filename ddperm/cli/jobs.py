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

vm_app = typer.Typer(help="DockerDesktopVM: info, start, stop.", no_args_is_help=True)
hosts_app = typer.Typer(help="The kubernetes.docker.internal hosts entry.", no_args_is_help=True)
engine_app = typer.Typer(help="The Windows Docker engine service.", no_args_is_help=True)
policy_app = typer.Typer(help="The Registry Access Management policy cache.", no_args_is_help=True)
vhd_app = typer.Typer(help="DockerDesktopVM's disk: size, move.", no_args_is_help=True)
for _name, _sub in (
    ("vm", vm_app),
    ("hosts", hosts_app),
    ("engine", engine_app),
    ("policy", policy_app),
    ("vhd", vhd_app),
):
    app.add_typer(_sub, name=_name)

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


@vm_app.command("info")
@connected
def vm_info(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """DockerDesktopVM as Hyper-V reports it (vm: - when it does not exist)."""
    run(target, "vm info", lambda h: vm.VMInfoResult(vm=h.vm.info()), as_json)


@vm_app.command("start")
@connected
def vm_start(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """Start DockerDesktopVM (nothing changes when it runs already)."""
    run(target, "vm start", lambda h: h.vm.start(), as_json)


@vm_app.command("stop")
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


@hosts_app.command("status")
@connected
def hosts_status(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """Whether the hosts file has ddperm's kubernetes.docker.internal section."""
    run(target, "hosts file", lambda h: h.hosts_file.status(), as_json)


@hosts_app.command("ensure")
@connected
def hosts_ensure(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """Write the kubernetes.docker.internal section (no byte changes when it is there)."""
    run(target, "hosts ensure", lambda h: h.hosts_file.ensure(), as_json)


@engine_app.command("status")
@connected
def engine_status(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """Whether the Windows Docker engine service is installed and running."""
    run(target, "engine", lambda h: h.engine.status(), as_json)


@engine_app.command("start")
@connected
def engine_start(
    host: HostArg,
    timeout: EngineTimeout = engine.DEFAULT_TIMEOUT,
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Start the Windows Docker engine (nothing changes when it runs already)."""
    run(target, "engine start", lambda h: h.engine.start(timeout=timeout), as_json)


@engine_app.command("stop")
@connected
def engine_stop(
    host: HostArg,
    timeout: EngineTimeout = engine.DEFAULT_TIMEOUT,
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Stop the Windows Docker engine (nothing changes when it is stopped)."""
    run(target, "engine stop", lambda h: h.engine.stop(timeout=timeout), as_json)


@policy_app.command("status")
@connected
def policy_status(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """The policy cache's state (problem names what is wrong)."""
    run(target, "policy cache", lambda h: h.policy.status(), as_json)


@policy_app.command("read")
@connected
def policy_read(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """The cached policy, checked (owner, ACL, hash); fails closed (exit 4)."""
    run(target, "policy", lambda h: h.policy.read(), as_json)


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


@policy_app.command("cache")
@connected
def policy_cache(
    host: HostArg, file: PolicyFile, as_json: AsJson = False, *, target: Target
) -> None:
    """Cache the organization's policy from --file (administrators only)."""
    policy = read_model(file, RegistryPolicy, "--file")
    run(target, "policy cache", lambda h: h.policy.cache(policy), as_json)


@vhd_app.command("size")
@connected
def vhd_size(host: HostArg, as_json: AsJson = False, *, target: Target) -> None:
    """The size of DockerDesktopVM's disk (what the guest sees, what the file takes)."""
    run(target, "vhd size", lambda h: h.vhd.size(), as_json)


@vhd_app.command("move")
@connected
def vhd_move(
    host: HostArg,
    destination: Annotated[
        str, typer.Argument(help="A folder or a .vhdx path on HOST.", show_default=False)
    ],
    as_json: AsJson = False,
    *,
    target: Target,
) -> None:
    """Move DockerDesktopVM's disk to DESTINATION and repoint the VM (the VM must be off)."""
    run(target, "vhd move", lambda h: h.vhd.move(destination), as_json)
