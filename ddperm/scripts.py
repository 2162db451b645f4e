"""The vetted PowerShell scripts: loading, library inclusion and the SHA-256 pin.

Every job is one ``.ps1`` file in ``ps_scripts/``. A line ``# ddperm:include NAME``
is replaced by ``ps_scripts/lib/NAME.ps1`` so that the health script and the
single-check scripts share one implementation of each check. ``manifest.json``
pins the SHA-256 of every file; a script whose file (or any library it includes)
does not match is refused before it can run.

Run ``python -m ddperm.scripts --write-manifest`` after editing a script.
"""

from __future__ import annotations

import argparse
import enum
import functools
import hashlib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ddperm.errors import PolicyError

MANIFEST = "manifest.json"
_INCLUDE = re.compile(r"^# ddperm:include (?P<lib>[A-Za-z][A-Za-z0-9]*)\s*$", re.MULTILINE)
_KIND = re.compile(r"^# ddperm-kind: (?P<kind>read|ensure|destructive)\s*$", re.MULTILINE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScriptKind(str, enum.Enum):
    """How a script may be retried: reads and ensure-style writes may, destructive ones not."""

    READ = "read"
    ENSURE = "ensure"
    DESTRUCTIVE = "destructive"

    @property
    def retryable(self) -> bool:
        return self is not ScriptKind.DESTRUCTIVE


@dataclass(frozen=True)
class Script:
    """One vetted script, assembled (libraries included) and ready to send."""

    name: str
    kind: ScriptKind
    text: str
    sources: tuple[str, ...]

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the assembled text, the exact bytes a host receives."""
        return sha256_text(self.text)

    @functools.cached_property
    def parameters(self) -> frozenset[str]:
        """The names its top-level ``param()`` block declares, as written."""
        return declared_parameters(self.text)


_PARAM_OPEN = re.compile(r"(?im)^\s*param\s*\(")
_OPENERS, _CLOSERS = "([{", ")]}"


def declared_parameters(text: str) -> frozenset[str]:
    """The ``$Name`` declared at the top level of a script's first ``param(...)`` block.

    A small scanner, not a parser: it skips attributes (``[...]``), script blocks, string
    literals, comments and default values, and stops at the block's closing parenthesis.
    The test suite checks it against tree-sitter's parse of every script.
    """
    return _scan_param_block(text)[0]


def param_block_end(text: str) -> int:
    """The index just past the closing parenthesis of the script's ``param(...)`` block."""
    end = _scan_param_block(text)[1]
    if end < 0:
        raise PolicyError("the script has no param() block")
    return end


def _scan_param_block(text: str) -> tuple[frozenset[str], int]:
    """The names declared in the first ``param(...)`` block and the index past it (-1: none)."""
    start = _PARAM_OPEN.search(text)
    if start is None:
        return frozenset(), -1
    names: set[str] = set()
    depth, index, in_default = 1, start.end(), False
    while index < len(text) and depth:
        char = text[index]
        if char in "'\"":
            index = _string_end(text, index)
            continue
        if char == "#":
            index = text.find("\n", index) % (len(text) + 1)
            continue
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth -= 1
        elif depth == 1 and char == "=":
            in_default = True
        elif depth == 1 and char == ",":
            in_default = False
        elif depth == 1 and char == "$" and not in_default:
            name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[index + 1 :])
            if name:
                names.add(name.group())
        index += 1
    return frozenset(names), index


def _string_end(text: str, index: int) -> int:
    """The index just past the string literal opening at ``index`` (doubled quotes escape)."""
    quote = text[index]
    index += 1
    while index < len(text):
        if text[index] == quote:
            if text[index + 1 : index + 2] == quote:
                index += 2
                continue
            return index + 1
        if quote == '"' and text[index] == "`":
            index += 1
        index += 1
    return index


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def script_root() -> Path:
    """Where the scripts live: inside the wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_ps_scripts", here.parent / "ps_scripts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("ddperm's ps_scripts/ folder was not found")


def _source_files(root: Path) -> Iterator[Path]:
    yield from sorted(root.glob("*.ps1"))
    yield from sorted((root / "lib").glob("*.ps1"))


def build_manifest(root: Path) -> dict[str, object]:
    """The manifest as it should be for the files now in ``root``."""
    files = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _source_files(root)
    }
    return {"version": 1, "files": files}


def manifest_text(manifest: Mapping[str, object]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


class ScriptRegistry:
    """Loads scripts from one folder and refuses any whose bytes differ from the manifest."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else script_root()
        raw = (self.root / MANIFEST).read_bytes()
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        files = json.loads(raw)["files"]
        self._pinned: dict[str, str] = {str(k): str(v) for k, v in files.items()}
        self._cache: dict[str, Script] = {}
        self._by_hash: dict[str, Script] | None = None

    def names(self) -> list[str]:
        """Names of all job scripts (not libraries)."""
        return sorted(k[:-4] for k in self._pinned if "/" not in k)

    def _read_pinned(self, relative: str) -> str:
        expected = self._pinned.get(relative)
        if expected is None:
            raise PolicyError(f"script {relative!r} is not in the manifest")
        path = self.root / relative
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PolicyError(f"script {relative!r} cannot be read: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != expected:
            raise PolicyError(f"script {relative!r} does not match its pinned SHA-256; refusing")
        return data.decode("utf-8")

    def library_text(self, name: str) -> str:
        """The hash-checked text of the library ``lib/NAME.ps1``."""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
            raise PolicyError(f"not a library name: {name!r}")
        return self._read_pinned(f"lib/{name}.ps1")

    def get(self, name: str) -> Script:
        """The assembled, hash-checked script called ``name``."""
        if not _NAME.match(name):
            raise PolicyError(f"not a script name: {name!r}")
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        relative = f"{name}.ps1"
        body = self._read_pinned(relative)
        kind = _KIND.search(body)
        if kind is None:
            raise PolicyError(f"script {name!r} declares no '# ddperm-kind:' line")
        sources = [relative]

        def include(match: re.Match[str]) -> str:
            lib = f"lib/{match['lib']}.ps1"
            sources.append(lib)
            return self._read_pinned(lib).rstrip("\n")

        script = Script(name, ScriptKind(kind["kind"]), _INCLUDE.sub(include, body), tuple(sources))
        self._cache[name] = script
        return script

    def by_sha256(self, digest: str) -> Script | None:
        """The job script whose assembled text has this hash (how a wire twin knows it)."""
        if self._by_hash is None:
            self._by_hash = {s.sha256: s for s in map(self.get, self.names())}
        return self._by_hash.get(digest)


@functools.lru_cache(maxsize=1)
def default_registry() -> ScriptRegistry:
    return ScriptRegistry()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddperm.scripts")
    parser.add_argument("--write-manifest", action="store_true", help="rewrite manifest.json")
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.root or script_root()
    wanted = manifest_text(build_manifest(root))
    current = (root / MANIFEST).read_text() if (root / MANIFEST).exists() else ""
    if args.write_manifest:
        (root / MANIFEST).write_text(wanted)
        print(f"wrote {root / MANIFEST}")
        return 0
    if current != wanted:
        print("manifest.json is out of date: run `make manifest`", file=sys.stderr)
        return 1
    print("manifest.json is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
