"""A pytest plugin that fails the run when a test touches a path outside the repository.

An audit hook (``sys.addaudithook``) sees every open, directory listing and file-system
change of the test process. Paths inside the repository, the interpreter's own folders and
the system's are allowed; anything else is recorded with the test that touched it, listed
at the end of the run, and makes the run fail. A test that needs data keeps it in the repo.
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# audit event -> how many of its leading arguments are paths
PATH_EVENTS = {
    "open": 1,
    "os.listdir": 1,
    "os.scandir": 1,
    "os.mkdir": 1,
    "os.rmdir": 1,
    "os.remove": 1,
    "os.rename": 2,
}

SYSTEM_ROOTS = (
    "/dev",  # null, urandom, pts: the standard library and subprocess open them
    "/proc",  # psutil, dask and os.cpu_count-style probes read the process table
    "/sys",  # CPU and memory limits (cgroups) read by dask and joblib-style helpers
    "/etc",  # passwd, group, hosts, ssl and ansible's /etc/ansible defaults
    "/usr",  # zoneinfo, locale, fonts, CA bundles, system libraries
    "/lib",  # shared libraries loaded by extension modules
    "/lib32",
    "/lib64",
    "/libx32",
    "/var/lib",  # system package state some libraries probe (e.g. dbus machine id)
    "/run",  # runtime sockets and files (e.g. systemd-resolved's resolv.conf target)
)


@dataclass(frozen=True)
class Allowed:
    """Where tests may touch files: whole roots, plus dot-folders of ``home``."""

    roots: tuple[str, ...]
    home: str | None = None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_outside(path: str, allowed: Allowed) -> bool:
    """Whether the absolute ``path`` lies outside everything allowed."""
    full = os.path.normpath(path)
    if any(_within(full, root) for root in allowed.roots):
        return False
    if allowed.home and _within(full, allowed.home) and full != allowed.home:
        first = os.path.relpath(full, allowed.home).split("/", 1)[0]
        return not first.startswith(".")  # caches and configs: ~/.cache, ~/.ansible, ...
    return True


def _variants(paths: Iterable[str]) -> tuple[str, ...]:
    """Each absolute path as given and with its symbolic links resolved."""
    out: set[str] = set()
    for path in paths:
        if path and os.path.isabs(path) and os.path.normpath(path) != "/":
            out.add(os.path.normpath(path))
            out.add(os.path.realpath(path))
    return tuple(sorted(out))


def allowed_for(repo: Path) -> Allowed:
    """What this interpreter may legitimately touch while testing ``repo``."""
    interpreter = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site.getsitepackages(),
        site.getusersitepackages(),
    ]
    # The import system and importlib.metadata list every sys.path entry (with an
    # editable install, the folder it points at); nothing else from sys.path is trusted.
    return Allowed(
        roots=_variants([str(repo), *interpreter, *sys.path, tempfile.gettempdir(), *SYSTEM_ROOTS]),
        home=os.path.expanduser("~"),
    )


@dataclass(eq=False)  # pluggy keeps plugins in sets
class OutsideReads:
    """Records which test touched which outside path; fails the session if any did."""

    allowed: Allowed
    current: str = "(session)"
    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def audit(self, event: str, args: tuple[object, ...]) -> None:
        count = PATH_EVENTS.get(event)
        if count is None:
            return
        for arg in args[:count]:
            if not isinstance(arg, (str, bytes, os.PathLike, type(None))):
                continue  # a file descriptor: its path was checked when it was opened
            try:
                full = os.path.abspath(os.fsdecode(arg if arg is not None else "."))
            except OSError:  # relative to a working folder that was removed
                continue
            if is_outside(full, self.allowed):
                self.seen.setdefault((full, self.current), event)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Iterator[None]:
        self.current = f"collecting {collector.nodeid or '.'}"
        yield
        self.current = "(session)"

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        self.current = item.nodeid
        yield
        self.current = "(session)"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.seen and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.seen:
            return
        terminalreporter.section("paths touched outside the repository", red=True)
        for (path, who), event in sorted(self.seen.items()):
            terminalreporter.line(f"{path}  ({event} by {who})")
        terminalreporter.line("keep what tests need inside the repository (tests/fixtures/)")


def pytest_configure(config: pytest.Config) -> None:
    guard = OutsideReads(allowed_for(config.rootpath))
    config.pluginmanager.register(guard, "outside-reads-guard")
    sys.addaudithook(guard.audit)
