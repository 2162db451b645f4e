"""Static vetting of ps_scripts/ with tree-sitter's PowerShell grammar.

``vet(text)`` parses one PowerShell text and returns every convention it breaks as a
``Violation`` (rule, line, offending text). ``vet_job`` vets a job script as
``ScriptRegistry`` assembles it (libraries included) and maps each line back to its
source file; ``vet_library`` vets one ``lib/*.ps1`` file. ``python -m tests.vetting``
prints every violation in ``ps_scripts/``.

Grammar notes (tree-sitter-pwsh 0.38): a range that starts with an integer literal
(``1..$n``) is parsed as a command named ``1..``; such names are not treated as commands.
``function F { param($A) $A }`` on one line is a syntax error to the grammar although
PowerShell accepts it: put a newline (or ``;``) after ``param(...)``. ``?.`` and ``?[]``
are not in the grammar: they are reported as ps7-syntax and syntax.
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import tree_sitter
import tree_sitter_pwsh

from ddperm.errors import PolicyError
from ddperm.guard import VM_NAME
from ddperm.scripts import _INCLUDE, ScriptRegistry, build_manifest, manifest_text, script_root

# Rule names, one per convention (every one has a negative test in test_script_vetting.py).
SYNTAX = "syntax"  # ERROR or MISSING node
NOT_ALLOWLISTED = "not-allowlisted"  # command neither in ALLOWLIST nor defined in the text
UNQUALIFIED = "unqualified-module"  # a Hyper-V / DISM / non-core cmdlet without Module\
FORBIDDEN = "forbidden"  # code from strings, processes, network, COM, dot-sourcing
PS7 = "ps7-syntax"  # valid only on PowerShell 7
KIND_LINE = "kind-line"  # first line is '# ddperm-kind: read|ensure|destructive'
PARAM_FIRST = "param-first"  # [CmdletBinding()] param() is the first statement
PREAMBLE = "preamble"  # StrictMode 3, ErrorAction Stop, progress silenced, right after param()
OUTPUT = "output"  # the script writes its result through Write-DdpermResult
ASCII = "ascii"  # ASCII only (no BOM, no smart quotes)
CR = "cr"  # LF line endings only
VM_PIN = "vm-pin"  # the pinned, mandatory [string]$VMName is the only VM name Hyper-V sees
LITERAL_PATH = "literal-path"  # file cmdlets take -LiteralPath (no wildcard expansion)
LIBRARY_SHAPE = "library-shape"  # a library only defines functions and data
TWIN_PARAMS = "twin-params"  # param() names and mandatory flags equal the twin handler's
ASSEMBLY = "assembly"  # ScriptRegistry can assemble it (script name, includes, kind line)
SNAKE_CASE = "snake-case"  # [ordered]@{...} (output document) keys equal pydantic field names
ERROR_RECORD = "error-record"  # throw an ErrorRecord (stable id), never a bare message string
# A Hyper-V -AsJob job (Hyper-V's own Job type) has no child jobs and always ends Completed:
# it is assigned, judged by its .Error collection and removed with Remove-Job in a finally;
# ChildJobs is never indexed (Set-StrictMode 3 throws on the empty list).
HYPERV_JOB = "hyperv-job"
PLAIN_ARGUMENT = "plain-argument"  # a LocalAccounts cmdlet gets no object property as argument
LOOP_PIPELINE = "loop-pipeline"  # no pipeline cmdlet inside a loop (per-line cost on 5.1)
# .GetAccessControl()/.SetAccessControl() on an object: .NET Framework only; on PowerShell 7
# they are FileSystemAclExtensions extension methods PowerShell does not bind (MethodNotFound).
ACL_METHOD = "acl-instance-method"
# ConvertFrom-Json outside the Windows PowerShell branch: PowerShell 7's (Json.NET) turns
# ISO-8601 strings into [datetime], so date strings change on the way in.
JSON_DATES = "json-dates"
RULES = (
    *(SYNTAX, NOT_ALLOWLISTED, UNQUALIFIED, FORBIDDEN, PS7, KIND_LINE, PARAM_FIRST, PREAMBLE),
    *(OUTPUT, ASCII, CR, VM_PIN, LITERAL_PATH, LIBRARY_SHAPE, TWIN_PARAMS, ASSEMBLY),
    *(SNAKE_CASE, ERROR_RECORD, HYPERV_JOB, PLAIN_ARGUMENT, LOOP_PIPELINE, ACL_METHOD),
    JSON_DATES,
)


class Family(NamedTuple):
    module: str
    cmdlets: str  # space-separated Verb-Noun names
    reason: str


# The central allowlist, one family per reason. A name written Module\Verb-Noun must match
# an entry exactly (case-insensitive). Only the cmdlets of CORE_MODULES, which every
# PowerShell session loads first, may be written bare.
ALLOWLIST = (
    Family(
        "Microsoft.PowerShell.Core",
        "Set-StrictMode ForEach-Object Where-Object",
        "strict mode and pipeline plumbing; no side effects",
    ),
    Family(
        "Microsoft.PowerShell.Core",
        "Wait-Job Remove-Job",
        "deadline on a Hyper-V -AsJob job (Stop-VM can hang), then remove it; no Start-Job",
    ),
    Family(
        "Microsoft.PowerShell.Utility",
        "ConvertTo-Json ConvertFrom-Json",
        "the one JSON result (Write-DdpermResult) and JSON data read back",
    ),
    Family(
        "Microsoft.PowerShell.Utility",
        "Select-Object Get-Date",
        "in-memory shaping of objects already read; no side effects",
    ),
    Family(
        "Microsoft.PowerShell.Utility",
        "New-Object",
        ".NET objects such as ErrorRecord; -ComObject and web clients are forbidden",
    ),
    Family(
        "Microsoft.PowerShell.Utility",
        "Get-FileHash",
        "verify a copied disk before its original is deleted (-LiteralPath only)",
    ),
    Family(
        "Microsoft.PowerShell.Management",
        "Test-Path Get-Item Get-ChildItem",
        "existence checks, link checks and folder listings; read-only, -LiteralPath",
    ),
    Family(
        "Microsoft.PowerShell.Management",
        "Move-Item Copy-Item Remove-Item",
        "VM disks and data folders, at paths re-checked by Assert-DdpermSafePath (-LiteralPath)",
    ),
    Family(
        "Microsoft.PowerShell.Security",
        "Get-Acl Set-Acl",
        "folder ACL checks, a renamed disk's inherited ACL, the policy cache's protected ACL"
        " (-LiteralPath only; the same on Windows PowerShell 5.1 and PowerShell 7)",
    ),
    Family(
        "Microsoft.PowerShell.Management",
        "Get-Service Stop-Service",
        "read the docker and vmms services by exact name; stop docker (engine_stop)",
    ),
    Family(
        "CimCmdlets",
        "Get-CimInstance Invoke-CimMethod",
        "locale-free WMI reads: OS, Win32_ComputerSystem, BCD elements over root/WMI",
    ),
    Family(
        "Hyper-V",
        "Get-VM Get-VMHardDiskDrive Get-VHD",
        "read the one DockerDesktopVM and its disk, found by the pinned $VMName",
    ),
    Family(
        "Hyper-V",
        "Get-VMIntegrationService Get-VMSnapshot",
        "read its shutdown integration service and its checkpoints, given the VM object",
    ),
    Family(
        "Hyper-V",
        "Start-VM Stop-VM Resume-VM Remove-VMSavedState",
        "start and stop DockerDesktopVM (vm_start, vm_stop), given the VM object",
    ),
    Family(
        "Hyper-V",
        "New-VM New-VHD Set-VM Set-VMFirmware Add-VMHardDiskDrive Add-VMDvdDrive Remove-VM",
        "create (booting its ISO) and destroy DockerDesktopVM (vm_create, vm_destroy)",
    ),
    Family(
        "Hyper-V",
        "Set-VMHardDiskDrive",
        "point DockerDesktopVM at its moved disk (vhd_move)",
    ),
    Family(
        "Microsoft.PowerShell.LocalAccounts",
        "New-LocalGroup Add-LocalGroupMember",
        "the docker-users group: create it, add one account by SID (membership is read as raw"
        " SIDs through ADSI: Get-LocalGroupMember fails on members without a name, #2996)",
    ),
    Family(
        "Microsoft.PowerShell.Security",
        "New-FileCatalog Test-FileCatalog",
        "pin the JEA module's files at install and check them before every call",
    ),
    Family(
        "Microsoft.PowerShell.Core",
        "New-PSSessionConfigurationFile Register-PSSessionConfiguration "
        "Unregister-PSSessionConfiguration Get-PSSessionConfiguration",
        "ddperm's own JEA endpoint 'ddperm' only (jea_install, jea_status, jea_uninstall)",
    ),
    Family(
        "",
        "shutdown.exe",
        "native: schedule the restart that completes feature changes (restart.ps1, /r /t N)",
    ),
    Family(
        "Dism",
        "Get-WindowsOptionalFeature Enable-WindowsOptionalFeature",
        "read and enable optional features (Hyper-V, Containers, VirtualMachinePlatform)",
    ),
)
CORE_MODULES = frozenset(
    f"microsoft.powershell.{name}" for name in ("core", "utility", "management", "security")
)
_BARE_OK = CORE_MODULES | {""}  # native programs (module "") have no qualified form

# Forbidden outright, whatever module qualifier is written (aliases included).
_EXECUTE = "invoke-expression iex add-type start-process saps start invoke-command icm"
FORBIDDEN_COMMANDS = frozenset(
    f"{_EXECUTE} invoke-webrequest iwr curl wget invoke-restmethod irm".split()
)
# Types that mean network access, other processes, loaded assemblies or new runspaces
# (compared lower-cased, without 'System.'), whether written [T] or given to New-Object.
_NETWORK = "net.webclient net.webrequest net.httpwebrequest net.http.httpclient"
_PROCESS = "diagnostics.process diagnostics.processstartinfo reflection.assembly"
_RUNSPACE = "powershell management.automation.powershell runspacefactory"
FORBIDDEN_TYPES = frozenset(f"{_NETWORK} {_PROCESS} {_RUNSPACE}".split())
_SCRIPTBLOCK = frozenset({"scriptblock", "management.automation.scriptblock"})  # no ::Create
# WMI methods Invoke-CimMethod may call (-MethodName a literal) -> text its -Arguments must
# hold: read BCD elements; write only hypervisorlaunchtype (0x250000F0, bootloader_enable).
CIM_METHODS = {
    "openstore": "",
    "openobject": "",
    "enumerateelementtypes": "",
    "getelement": "",
    "setintegerelement": "0x250000f0",
}
# File cmdlets must name their target with -LiteralPath, so no path acts as a wildcard.
_FILE_READ = "test-path get-item get-childitem get-content get-itemproperty get-acl get-filehash"
_FILE_WRITE = "set-content add-content move-item copy-item remove-item rename-item set-acl"
_LITERAL_PATH_CMDLETS = frozenset(f"{_FILE_READ} {_FILE_WRITE}".split())
# Under PowerShell 7 the LocalAccounts module may run in a Windows PowerShell compatibility
# session, whose deserialized objects do not bind back to its typed parameters.
_LOCAL_ACCOUNTS = "microsoft.powershell.localaccounts"
# Pipeline cmdlets cost a pipeline per call: inside a loop over the lines of a file they
# take tens of seconds on 5.1 for a 100k-line hosts file (use .NET string and regex calls).
_PIPELINE_CMDLETS = frozenset(
    {"where-object", "?", "foreach-object", "%", "select-object", "sort-object", "measure-object"}
)
_LOOPS = frozenset({"foreach_statement", "for_statement", "while_statement", "do_statement"})
PS7_COMMANDS = frozenset({"get-error"})
_PS7_NODES = frozenset({"null_coalesce_expression", "ternary_expression", "pipeline_chain_tail"})
# (commands or None for any command, parameter, shortest accepted prefix, rule); PowerShell
# binds any unambiguous prefix, so -AsHash is -AsHashtable.
_PARAMETER_RULES: tuple[tuple[frozenset[str] | None, str, int, str], ...] = (
    (frozenset({"new-object"}), "comobject", 1, FORBIDDEN),
    (frozenset({"foreach-object", "%", "foreach"}), "parallel", 2, PS7),
    (frozenset({"convertto-json"}), "asarray", 2, PS7),
    (frozenset({"convertto-json"}), "enumsasstrings", 2, PS7),
    (frozenset({"convertto-json"}), "escapehandling", 2, PS7),
    (frozenset({"convertfrom-json"}), "ashashtable", 1, PS7),
    (frozenset({"convertfrom-json"}), "depth", 2, PS7),
    (frozenset({"convertfrom-json"}), "noenumerate", 1, PS7),
    (frozenset({"get-date"}), "asutc", 2, PS7),
    (frozenset({"get-date"}), "unixtimeseconds", 2, PS7),
    (None, "asarray", 7, PS7),
    (None, "enumsasstrings", 14, PS7),
)
# Hyper-V and DISM cmdlets by noun, so an unqualified one is caught even if not allowlisted.
_MODULE_NOUN = re.compile(
    r"^[a-z]+-(vm|vhd|windows(optionalfeature|image|package|capability|driver|edition))",
    re.IGNORECASE,
)
_KIND_LINE = re.compile(r"# ddperm-kind: (read|ensure|destructive)")
_PREAMBLE = (
    frozenset({"set-strictmode -version 3", "set-strictmode -version 3.0"}),
    frozenset({"$erroractionpreference = 'stop'", '$erroractionpreference = "stop"'}),
    frozenset(
        {"$progresspreference = 'silentlycontinue'", '$progresspreference = "silentlycontinue"'}
    ),
)
_RESULT_FUNCTION = "write-ddpermresult"
_ACL_METHODS = frozenset({"getaccesscontrol", "setaccesscontrol"})
# Conditions under which a branch runs only on Windows PowerShell: (if-condition, branch).
_DESKTOP_BRANCHES = frozenset(
    {
        ("$psversiontable.psedition -eq 'core'", "else_clause"),
        ("$psversiontable.psedition -ne 'core'", "statement_block"),
        ("$psversiontable.psedition -eq 'desktop'", "statement_block"),
    }
)

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))
Node = tree_sitter.Node


@dataclass(frozen=True)
class Violation:
    rule: str
    line: int
    text: str
    file: str = "<text>"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.text}"


_ALLOWED = {f"{f.module}\\{c}".lower() for f in ALLOWLIST for c in f.cmdlets.split()}
_BARE_MODULE = {name.rpartition("\\")[2]: name.rpartition("\\")[0] for name in _ALLOWED}


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _violation(rule: str, node: Node, text: str | None = None) -> Violation:
    shown = text if text is not None else _text(node).strip().split("\n")[0].strip()
    return Violation(rule, node.start_point.row + 1, shown[:120])


def _type_name(type_literal: Node) -> str:
    name = re.sub(r"\s+", "", _text(type_literal)).lower()
    name = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    return name.removeprefix("system.")


def _command_name(command: Node) -> str | None:
    """The name as written (``Hyper-V\\Get-VM``), or None for ``& {...}`` and ranges."""
    name = command.child_by_field_name("command_name")
    if name is None or name.type != "command_name":
        return None
    text = _text(name)
    return None if re.match(r"^\d", text) else text


def _parameters_of(command: Node) -> list[Node]:
    elements = command.child_by_field_name("command_elements")
    return (
        [] if elements is None else [c for c in elements.children if c.type == "command_parameter"]
    )


def _named_arguments(command: Node) -> dict[str, Node | None]:
    """Lower-cased parameter name -> the value written after it (None for a bare switch)."""
    elements = command.child_by_field_name("command_elements")
    parts = [] if elements is None else elements.named_children
    parts = [c for c in parts if c.type != "command_argument_sep"]
    found: dict[str, Node | None] = {}
    for i, part in enumerate(parts):
        if part.type == "command_parameter":
            following = parts[i + 1] if i + 1 < len(parts) else None
            value = (
                None if following is None or following.type == "command_parameter" else following
            )
            found[_text(part).lstrip("-").rstrip(":").lower()] = value
    return found


def _is_ordered(hash_literal: Node) -> bool:
    """``[ordered]@{...}``: how every script builds the documents it outputs."""
    cast = hash_literal.parent.parent if hash_literal.parent is not None else None
    return (
        cast is not None
        and cast.type == "cast_expression"
        and cast.named_children[0].type == "type_literal"
        and _type_name(cast.named_children[0]) == "ordered"
    )


def _hash_keys(hash_literal: Node) -> list[Node]:
    bodies = [c for c in hash_literal.named_children if c.type == "hash_literal_body"]
    entries = [e for b in bodies for e in b.named_children if e.type == "hash_entry"]
    return [k for e in entries for k in e.named_children[:1] if k.type == "key_expression"]


def _enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type != "function_statement":
        parent = parent.parent
    return parent


def _in_function(node: Node) -> bool:
    return _enclosing_function(node) is not None


def _in_loop(node: Node) -> bool:
    """Inside the body of a loop (not its header, which runs once)."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type in _LOOPS and child.type == "statement_block":
            return True
        child, parent = parent, parent.parent
    return False


def _desktop_only(node: Node) -> bool:
    """``node`` is inside a branch that runs only on Windows PowerShell (PSEdition test)."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "if_statement" and child.type in ("else_clause", "statement_block"):
            condition = next((c for c in parent.named_children if c.type == "pipeline"), None)
            text = "" if condition is None else _text(condition)
            normal = re.sub(r"\s+", " ", text).strip().lower().replace('"', "'")
            if (normal, child.type) in _DESKTOP_BRANCHES:
                return True
        child, parent = parent, parent.parent
    return False


def _unwrapped(node: Node) -> Node:
    """The expression under unary wrappers: ``$g.SID`` as a command argument."""
    while node.type == "unary_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


class _Vetter:
    def __init__(self, text: str, *, library: bool, known: frozenset[str]) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.library = library
        self.tree = _PARSER.parse(self.data)
        self.root = self.tree.root_node
        self.out: list[Violation] = []
        self.definitions = {
            _text(next(c for c in node.children if c.type == "function_name")).lower(): node
            for node in _walk(self.root)
            if node.type == "function_statement"
        }
        self.functions = {  # each defined function (lower-cased) -> the commands it calls
            name: {
                n.lower() for c in _walk(node) if c.type == "command" and (n := _command_name(c))
            }
            for name, node in self.definitions.items()
        }
        self.known = known | frozenset(self.functions)
        self.hyperv_functions = {
            f
            for f, calls in self.functions.items()
            if any(c.startswith("hyper-v\\") for c in self._closure(calls))
        }

    def _closure(self, names: set[str]) -> set[str]:
        """``names`` and every command the defined functions among them run, transitively."""
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.functions.get(name, ()))
        return seen

    def reachable_calls(self) -> set[str]:
        """Commands run by top-level code, directly or through the functions it calls."""
        return self._closure(
            {
                n.lower()
                for c in _walk(self.root)
                if c.type == "command" and not _in_function(c) and (n := _command_name(c))
            }
        )

    def run(self) -> list[Violation]:
        self._bytes()
        for node in _walk(self.root):
            self._node(node)
        if self.library:
            self._library_shape()
        return sorted(set(self.out), key=lambda v: (v.line, v.rule, v.text))

    def _bytes(self) -> None:
        lines = self.text.split("\n")
        cr_lines = [i for i, line in enumerate(lines, 1) if "\r" in line]
        if cr_lines:
            shown = f"CR byte on {len(cr_lines)} line(s); first: {lines[cr_lines[0] - 1]!r}"
            self.out.append(Violation(CR, cr_lines[0], shown[:120]))
        for i, line in enumerate(lines, 1):
            odd = [ch for ch in line if ord(ch) > 0x7F]
            if odd:
                self.out.append(Violation(ASCII, i, f"{odd[0]!r} in {line.strip()[:100]!r}"))

    def _node(self, node: Node) -> None:
        kind = node.type
        if node.is_error or node.is_missing:
            shown = f"missing {kind}" if node.is_missing else None
            self.out.append(_violation(SYNTAX, node, shown))
        elif kind == "command":
            self._command(node)
        elif kind in _PS7_NODES or (kind == "assignment_operator" and _text(node) == "??="):
            self.out.append(_violation(PS7, node))
        elif kind == "block_name" and _text(node).lower() == "clean":
            self.out.append(_violation(PS7, node.parent or node))
        elif kind == "?" and self.data[node.end_byte : node.end_byte + 1] in (b".", b"["):
            self.out.append(_violation(PS7, node, "?. or ?[] (null-conditional access)"))
        elif kind == "type_literal" and _type_name(node) in FORBIDDEN_TYPES:
            self.out.append(_violation(FORBIDDEN, node))
        elif kind == "member_name" and _text(node).lower() == "invokecommand":
            self.out.append(_violation(FORBIDDEN, node.parent or node))
        elif kind in ("invocation_expression", "member_access"):
            self._static_call(node)
        elif kind == "element_access" and _member_of(node.named_children[0]) == "childjobs":
            self.out.append(_violation(HYPERV_JOB, node, f"{_text(node)} (a Hyper-V job has none)"))
        elif kind in ("left_assignment_expression", "foreach_statement") and re.match(
            r"\$\{?vmname\b", _text(node).lower().removeprefix("foreach").lstrip(" (")
        ):
            self.out.append(_violation(VM_PIN, node))  # reassigns $VMName
        elif kind == "flow_control_statement" and re.match(r"throw\s+@?['\"]", _text(node), re.I):
            self.out.append(_violation(ERROR_RECORD, node))
        elif kind == "hash_literal_expression" and _is_ordered(node):
            for key in _hash_keys(node):
                if not re.fullmatch(r"[a-z][a-z0-9_]*", _text(key).strip("'\"")):
                    self.out.append(_violation(SNAKE_CASE, key))

    def _static_call(self, node: Node) -> None:
        target = node.named_children[0] if node.named_children else None
        member = next((c for c in node.children if c.type == "member_name"), None)
        instance = any(c.type == "." for c in node.children)
        if (
            node.type == "invocation_expression"
            and instance
            and member is not None
            and _text(member).lower() in _ACL_METHODS
        ):
            self.out.append(_violation(ACL_METHOD, node))
        if (
            target is not None
            and member is not None
            and target.type == "type_literal"
            and _type_name(target) in _SCRIPTBLOCK
            and _text(member).lower() == "create"
        ):
            self.out.append(_violation(FORBIDDEN, node))

    def _command(self, node: Node) -> None:
        operator = next((c for c in node.children if c.type == "command_invocation_operator"), None)
        if operator is not None:
            target = next((c for c in node.children if c.type == "command_name_expr"), None)
            targets = [] if target is None else [c.type for c in target.named_children]
            if targets != ["script_block_expression"] and not (
                _text(operator) == "&" and target is not None and _is_scriptblock_parameter(target)
            ):
                self.out.append(_violation(FORBIDDEN, node))
            return
        name = _command_name(node)
        if name is None:
            return
        lower = name.lower()
        module, _, bare = lower.rpartition("\\")
        if bare in FORBIDDEN_COMMANDS:
            self.out.append(_violation(FORBIDDEN, node))
        elif bare in PS7_COMMANDS:
            self.out.append(_violation(PS7, node))
        elif module:
            if lower not in _ALLOWED:
                self.out.append(_violation(NOT_ALLOWLISTED, node))
        elif bare in self.known:
            pass
        elif _MODULE_NOUN.match(bare) or (
            bare in _BARE_MODULE and _BARE_MODULE[bare] not in _BARE_OK
        ):
            self.out.append(_violation(UNQUALIFIED, node))
        elif bare not in _BARE_MODULE:
            self.out.append(_violation(NOT_ALLOWLISTED, node))
        for parameter in _parameters_of(node):
            written = _text(parameter).lstrip("-").rstrip(":").lower()
            for commands, full, shortest, rule in _PARAMETER_RULES:
                if (commands is None or bare in commands) and (
                    len(written) >= shortest and full.startswith(written)
                ):
                    self.out.append(_violation(rule, parameter, f"{name} {_text(parameter)}"))
        arguments = _named_arguments(node)
        if bare in _PIPELINE_CMDLETS and _in_loop(node):
            self.out.append(_violation(LOOP_PIPELINE, node))
        if module == _LOCAL_ACCOUNTS and any(
            _unwrapped(value).type == "member_access" for value in arguments.values() if value
        ):
            self.out.append(_violation(PLAIN_ARGUMENT, node))
        if bare == "convertfrom-json" and not _desktop_only(node):
            self.out.append(_violation(JSON_DATES, node))
        if bare in _LITERAL_PATH_CMDLETS and "literalpath" not in arguments:
            self.out.append(_violation(LITERAL_PATH, node))
        if bare == "invoke-cimmethod":
            method = arguments.get("methodname")
            wanted = CIM_METHODS.get("" if method is None else _text(method).strip("'\"").lower())
            given = arguments.get("arguments")
            if wanted is None or wanted not in ("" if given is None else _text(given).lower()):
                self.out.append(_violation(NOT_ALLOWLISTED, node))
        if module == "hyper-v" or (not module and bare in self.hyperv_functions):
            self._vm_name_arguments(node, bare, arguments)
        if module == "hyper-v" and any("asjob".startswith(a) for a in arguments if a):
            self._hyperv_job(node)
        if bare == "new-object":  # New-Object Net.WebClient / -TypeName 'System.Net.WebClient'
            elements = node.child_by_field_name("command_elements")
            for argument in [] if elements is None else elements.named_children:
                if _text(argument).strip("'\"").lower().removeprefix("system.") in FORBIDDEN_TYPES:
                    self.out.append(_violation(FORBIDDEN, node))

    def _vm_name_arguments(self, node: Node, bare: str, arguments: dict[str, Node | None]) -> None:
        """A VM name reaches Hyper-V only as $VMName, passed on through function parameters.

        At the top level the value must be $VMName; inside a function, one of that
        function's own parameters (whose call sites this same check covers).
        """
        callee = self.definitions.get(bare)
        keys = ["vmname"] + (["name"] if bare.endswith("-vm") or callee is not None else [])
        function = _enclosing_function(node)
        for key in keys:
            if key in arguments:
                value = arguments[key]
                shown = "" if value is None else _text(value).lower()
                passed = re.fullmatch(r"\$(\w+)", shown)
                allowed = (
                    shown == "$vmname"
                    if function is None
                    else passed is not None
                    and (_function_parameter(function, passed[1]) is not None)
                )
                if not allowed:
                    self.out.append(_violation(VM_PIN, node))
        declared = [k for k in keys if callee is not None and _function_parameter(callee, k)]
        if declared and not any(k in arguments for k in declared):
            self.out.append(_violation(VM_PIN, node, f"{_text(node)} (VM name not passed by name)"))
        if bare == "get-vm" and "name" not in arguments:
            self.out.append(_violation(VM_PIN, node, "Hyper-V\\Get-VM without -Name (every VM)"))

    def _hyperv_job(self, command: Node) -> None:
        """The job a Hyper-V ``-AsJob`` command returns is assigned to a variable, judged by
        ``$var.Error`` and removed by ``Remove-Job -Job $var`` inside a finally."""
        variable = _assigned_variable(command)
        judged = removed = False
        for node in _walk(self.root) if variable else ():
            first = node.named_children[0] if node.named_children else None
            if node.type == "member_access" and first is not None:
                judged |= _text(first).lower() == variable and _member_of(node) == "error"
            elif node.type == "command" and (_command_name(node) or "").lower().endswith(
                "remove-job"
            ):
                job = _named_arguments(node).get("job")
                removed |= (
                    job is not None
                    and _text(job).lower() == variable
                    and _inside(node, "finally_clause")
                )
        if not (judged and removed):
            shown = f"{_text(command)} (assign it; judge $job.Error; Remove-Job it in a finally)"
            self.out.append(_violation(HYPERV_JOB, command, shown))

    def _library_shape(self) -> None:
        """Top level: function definitions and data assignments only; nothing runs on include."""
        for child in self.root.named_children:
            statements = child.named_children if child.type == "statement_list" else [child]
            for statement in statements:
                data = statement.type == "pipeline" and [
                    c.type for c in statement.named_children
                ] == ["assignment_expression"]
                if statement.type not in ("function_statement", "comment") and not (
                    data and not any(c.type == "command" for c in _walk(statement))
                ):
                    self.out.append(_violation(LIBRARY_SHAPE, statement))

    # -- job-script conventions ------------------------------------------------------------

    def param_block(self) -> Node | None:
        first = next((c for c in self.root.named_children if c.type != "comment"), None)
        return first if first is not None and first.type == "param_block" else None

    def job(self, params: Mapping[str, bool] | None) -> None:
        first_line = self.text.split("\n", 1)[0].rstrip()
        if not _KIND_LINE.fullmatch(first_line):
            self.out.append(Violation(KIND_LINE, 1, first_line[:120]))
        block = self.param_block()
        attribute_lists = [] if block is None else block.named_children
        if not any(
            _attribute_name(a) == "cmdletbinding"
            for lst in attribute_lists
            if lst.type == "attribute_list"
            for a in lst.named_children
        ):
            where = block or self.root
            self.out.append(
                _violation(PARAM_FIRST, where, "script must open with [CmdletBinding()] param(...)")
            )
        self._preamble()
        calls = self.reachable_calls()
        if _RESULT_FUNCTION not in calls:
            self.out.append(Violation(OUTPUT, 1, "the script never calls Write-DdpermResult"))
        declared = script_parameters(block) if block is not None else {}
        self._vm_pin(block, calls)
        if params is not None and declared != dict(params):
            shown = f"param() {declared} != twin handler {dict(params)}"
            where = block or self.root
            self.out.append(_violation(TWIN_PARAMS, where, shown))

    def _preamble(self) -> None:
        body = next((c for c in self.root.named_children if c.type == "statement_list"), None)
        statements = [] if body is None else [c for c in body.named_children if c.type != "comment"]
        head = [re.sub(r"\s+", " ", _text(s)).strip().lower() for s in statements[:3]]
        head = [h.removeprefix("microsoft.powershell.core\\") for h in head]
        for wanted in _PREAMBLE:
            if not any(h in wanted for h in head):
                where = statements[0] if statements else self.root
                self.out.append(
                    _violation(PREAMBLE, where, f"first three statements lack {sorted(wanted)[0]}")
                )

    def _vm_pin(self, block: Node | None, calls: set[str]) -> None:
        touches = sorted(c for c in calls if c.startswith("hyper-v\\"))
        parameter = None if block is None else _parameter(block, "vmname")
        if parameter is not None and not _is_pinned(parameter):
            self.out.append(_violation(VM_PIN, parameter))
        elif touches and parameter is None:
            where = block or self.root
            shown = f"uses {touches[0]} but declares no pinned $VMName parameter"
            self.out.append(_violation(VM_PIN, where, shown))


def _member_of(node: Node) -> str:
    """The lower-cased member name of ``$x.Name`` (a member_access), else ""."""
    member = next((c for c in node.children if c.type == "member_name"), None)
    return _text(member).lower() if node.type == "member_access" and member else ""


def _inside(node: Node, kind: str) -> bool:
    parent = node.parent
    while parent is not None and parent.type != kind:
        parent = parent.parent
    return parent is not None


def _assigned_variable(command: Node) -> str:
    """``$job`` (lower-cased) when the command's output is assigned to it, else ""."""
    parent = command.parent
    while parent is not None and parent.type not in ("assignment_expression", "statement_list"):
        parent = parent.parent
    if parent is None or parent.type != "assignment_expression":
        return ""
    left = _text(parent.named_children[0]).strip().lower()
    return left if re.fullmatch(r"\$\w+", left) else ""


def _is_scriptblock_parameter(target: Node) -> bool:
    """``& $Check`` where $Check is a [scriptblock] parameter of the enclosing function.

    PowerShell never converts a string to a ScriptBlock, so such a variable holds code
    written in the script itself, not a command name or text built at run time.
    """
    name = _text(target).strip().lower()
    function = _enclosing_function(target)
    if function is None or not re.fullmatch(r"\$[a-z_][a-z0-9_]*", name):
        return False
    parameter = _function_parameter(function, name[1:])
    types = [] if parameter is None else [t for t in _walk(parameter) if t.type == "type_literal"]
    return [_type_name(t) for t in types] == ["scriptblock"]


def _function_parameter(function: Node, lower_name: str) -> Node | None:
    """The function's own parameter called ``lower_name`` (param() or F($x) form)."""
    for block in _walk(function):
        if block.type in ("param_block", "function_parameter_declaration"):
            return _parameter(block, lower_name)
    return None


def _script_parameters(block: Node) -> list[Node]:
    lists = [c for c in block.named_children if c.type == "parameter_list"]
    return [p for lst in lists for p in lst.named_children if p.type == "script_parameter"]


def _parameter_name(parameter: Node) -> str:
    variable = next(c for c in parameter.named_children if c.type == "variable")
    return _text(variable).lstrip("$").strip("{}")


def _parameter(block: Node, lower_name: str) -> Node | None:
    for parameter in _script_parameters(block):
        if _parameter_name(parameter).lower() == lower_name:
            return parameter
    return None


def _attributes(parameter: Node) -> list[Node]:
    lists = [c for c in parameter.named_children if c.type == "attribute_list"]
    return [a for lst in lists for a in lst.named_children if a.type == "attribute"]


def _attribute_name(attribute: Node) -> str:
    name = next((c for c in attribute.named_children if c.type == "attribute_name"), None)
    return "" if name is None else _text(name).lower()


def _arguments(attribute: Node) -> list[Node]:
    args = next((c for c in attribute.named_children if c.type == "attribute_arguments"), None)
    return (
        [] if args is None else [a for a in args.named_children if a.type == "attribute_argument"]
    )


def _is_mandatory(parameter: Node) -> bool:
    for attribute in _attributes(parameter):
        if _attribute_name(attribute) == "parameter":
            for argument in _arguments(attribute):
                parts = [_text(c) for c in argument.named_children]
                if parts and parts[0].lower() == "mandatory":
                    return len(parts) == 1 or parts[1].lower() in ("$true", "1")
    return False


def _is_pinned(parameter: Node) -> bool:
    """Mandatory [string]$VMName with ValidateSet('DockerDesktopVM') only, and no default."""
    attributes = _attributes(parameter)
    types = [
        _type_name(t) for a in attributes for t in a.named_children if t.type == "type_literal"
    ]
    sets = [a for a in attributes if _attribute_name(a) == "validateset"]
    values = [_text(arg) for s in sets for arg in _arguments(s)]
    return (
        _parameter_name(parameter) == "VMName"
        and _is_mandatory(parameter)
        and types == ["string"]
        and len(sets) == 1
        and values in ([f"'{VM_NAME}'"], [f'"{VM_NAME}"'])
        and not any(c.type == "script_parameter_default" for c in parameter.named_children)
    )


def script_parameters(block: Node) -> dict[str, bool]:
    """param() names (as written) -> whether mandatory."""
    return {_parameter_name(p): _is_mandatory(p) for p in _script_parameters(block)}


def parse_parameters(text: str) -> dict[str, bool]:
    """The parameters of a script's top-level param() block."""
    block = _Vetter(text, library=False, known=frozenset()).param_block()
    return {} if block is None else script_parameters(block)


def vet(
    text: str,
    *,
    library: bool = False,
    params: Mapping[str, bool] | None = None,
    known_functions: frozenset[str] = frozenset(),
) -> list[Violation]:
    """Every violation in one script (``library=False``) or library text.

    ``params``: the twin handler's parameters (name -> mandatory), compared with param().
    ``known_functions``: lower-cased names defined elsewhere (other libraries) that may be called.
    """
    vetter = _Vetter(text, library=library, known=known_functions)
    if not library:
        vetter.job(params)
    return vetter.run()


def read_source(path: Path) -> str:
    """A file's text as the registry decodes it (no newline translation); bad bytes shown."""
    return path.read_bytes().decode("utf-8", "replace")


def line_sources(registry: ScriptRegistry, name: str) -> list[tuple[str, int]]:
    """(file, line) for each line of the assembled script, replaying the registry's includes."""
    script = registry.get(name)
    body = read_source(registry.root / script.sources[0])
    segments: list[tuple[str, int, str]] = []  # (file, first line, text)
    position = 0
    for match, lib in zip(_INCLUDE.finditer(body), script.sources[1:], strict=True):
        segments.append(
            (script.sources[0], body.count("\n", 0, position) + 1, body[position : match.start()])
        )
        segments.append((lib, 1, read_source(registry.root / lib).rstrip("\n")))
        position = match.end()
    segments.append((script.sources[0], body.count("\n", 0, position) + 1, body[position:]))
    origin: list[tuple[str, int]] = []
    open_line_empty = False
    for file, first, text in segments:
        pieces = text.split("\n")
        for i in range(len(pieces)):
            if i == 0 and origin:  # continues the previous segment's last line
                if open_line_empty:
                    origin[-1] = (file, first)
                continue
            origin.append((file, first + i))
        open_line_empty = pieces[-1] == ""
    return origin


def vet_job(registry: ScriptRegistry, name: str) -> list[Violation]:
    """Vet job script ``name`` as the registry assembles it, against its twin handler."""
    import ddperm.testing.jobs  # noqa: F401  (registers the handlers)
    from ddperm.testing import dispatch

    file = f"{name}.ps1"
    params = dispatch.parameters(name) if name in dispatch.HANDLERS else None
    missing = [] if params is not None else [f"no twin handler registered for {name!r}"]
    try:
        script = registry.get(name)
    except (PolicyError, UnicodeDecodeError) as refused:  # vet the bare file: all rules report
        text = read_source(registry.root / file)
        found = vet(
            text, params=params, known_functions=frozenset(library_functions(registry.root))
        )
        found += [Violation(ASSEMBLY, 1, str(refused)[:120])]
        found += [Violation(TWIN_PARAMS, 1, m) for m in missing]
        return [replace(v, file=file) for v in found]
    found = vet(script.text, params=params) + [Violation(TWIN_PARAMS, 1, m) for m in missing]
    elsewhere = library_functions(registry.root)
    for i, v in enumerate(found):  # a library function whose library is not included
        lib = elsewhere.get(v.text.split()[0].lower()) if v.rule == NOT_ALLOWLISTED else None
        if lib is not None:
            found[i] = replace(v, text=f"{v.text.split()[0]} (defined in {lib}, not included)")
    origin = line_sources(registry, name)
    assert len(origin) == script.text.count("\n") + 1, "include mapping out of step"
    return [replace(v, file=origin[v.line - 1][0], line=origin[v.line - 1][1]) for v in found]


@functools.lru_cache(maxsize=8)
def library_functions(root: Path) -> dict[str, str]:
    """Lower-cased name of each function a library defines -> that library's file."""
    return {
        name: f"lib/{path.name}"
        for path in sorted((root / "lib").glob("*.ps1"))
        for name in _Vetter(read_source(path), library=True, known=frozenset()).functions
    }


def vet_library(root: Path, relative: str) -> list[Violation]:
    """Vet one library file; functions of the other libraries may be called."""
    known = frozenset(library_functions(root))
    found = vet(read_source(root / relative), library=True, known_functions=known)
    return [replace(v, file=relative) for v in found]


def fresh_registry(into: Path) -> ScriptRegistry:
    """A registry over a copy of ps_scripts/ with a manifest rebuilt for its current bytes.

    Vetting looks at what is on disk now; whether the manifest is current is tested apart.
    """
    root = into / "ps_scripts"
    shutil.copytree(script_root(), root)
    (root / "manifest.json").write_text(manifest_text(build_manifest(root)))
    return ScriptRegistry(root)


def commands_used(root: Path) -> set[str]:
    """Every command name (lower-cased, as written) in the scripts and libraries under root."""
    return {
        name.lower()
        for path in [*root.glob("*.ps1"), *root.glob("lib/*.ps1")]
        for node in _walk(_PARSER.parse(path.read_bytes()).root_node)
        if node.type == "command" and (name := _command_name(node))
    }


def job_names(root: Path) -> list[str]:
    return sorted(p.stem for p in root.glob("*.ps1"))


def library_files(root: Path) -> list[str]:
    return sorted(f"lib/{p.name}" for p in (root / "lib").glob("*.ps1"))


def vet_all() -> list[Violation]:
    """Every violation in ps_scripts/ as it is on disk now (deduplicated across scripts)."""
    with tempfile.TemporaryDirectory() as tmp:
        registry = fresh_registry(Path(tmp))
        found = {v for name in job_names(registry.root) for v in vet_job(registry, name)}
        for relative in library_files(registry.root):
            found.update(vet_library(registry.root, relative))
    return sorted(found, key=lambda v: (v.file, v.line, v.rule))


if __name__ == "__main__":
    violations = vet_all()
    print("\n".join(map(str, violations)) or "no violations")
    sys.exit(1 if violations else 0)
