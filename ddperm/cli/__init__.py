"""The ``ddperm`` command line: one module per command, registered on one Typer app.

Every command ends the same way: ``DdpermCommand.main`` catches what escapes a command
and prints it as one line on stderr (``ddperm: error: ...``) with the exit code
``ddperm.cli.failures.classify`` chose; ``-v`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ddperm.cli.exitcodes import ExitCode, table
from ddperm.cli.output import one_line

_state = {"verbose": 0}


class DdpermCommand(TyperGroup):
    """The root command: runs one command and turns any failure into one line + exit code.

    ``main`` always ends the process (``sys.exit``), whatever ``standalone_mode`` says.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        _state["verbose"] = 0
        try:
            code = super().main(args, prog_name or "ddperm", complete_var, False, **extra)
        except typer.Abort:
            typer.echo("ddperm: aborted", err=True)
            code = ExitCode.INTERRUPTED
        except KeyboardInterrupt:
            code = ExitCode.INTERRUPTED
        except Exception as exc:
            code = report(exc)
        if code == ExitCode.INTERRUPTED:
            quiet_second_interrupt()
        sys.stdout.flush()  # before Python waits for threads still talking to a slow host
        sys.exit(int(code) if isinstance(code, int) else ExitCode.OK)


def quiet_second_interrupt() -> None:
    """After a first Ctrl-C, a second one ends the process at once: exit 130, no traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda signum, frame: os._exit(ExitCode.INTERRUPTED))


def report(exc: BaseException) -> ExitCode:
    """Print ``exc`` as ``ddperm: error: ...`` (with -v, its traceback first); its exit code."""
    from ddperm.cli.failures import CLI_ERROR, classify

    if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: its message is the help
        typer.echo(exc, err=True)
        return ExitCode.USAGE
    code, message = classify(exc)
    if _state["verbose"] and not isinstance(exc, CLI_ERROR):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    typer.echo(f"ddperm: error: {one_line(message)}", err=True)
    return code


app = typer.Typer(
    name="ddperm",
    cls=DdpermCommand,
    epilog="\b\nExit codes:\n" + table(),
    rich_markup_mode=None,  # plain help: no <bool> for flags, and it reads well in logs
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    from ddperm.cli import commands  # noqa: F401  (registers every command)

    app()


def _version(value: bool) -> None:
    if value:
        import ddperm
        from ddperm.components.system import ddperm_version

        typer.echo(f"ddperm {getattr(ddperm, '__version__', None) or ddperm_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Log to stderr: -v info, -vv debug; tracebacks."
        ),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Docker Desktop's privileged Windows helper as a Python library and CLI."""
    _state["verbose"] = verbose
    _log_to_stderr(verbose)


def _log_to_stderr(verbose: int) -> None:
    """-v: the ``ddperm`` logger at INFO on stderr; -vv: DEBUG; none: as the caller set it."""
    logger = logging.getLogger("ddperm")
    for old in [h for h in logger.handlers if getattr(h, "ddperm_cli", False)]:
        logger.removeHandler(old)
        logger.setLevel(logging.NOTSET)
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.ddperm_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
