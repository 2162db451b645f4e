"""The Ddperm module is generated from ps_scripts/: deterministic, every job covered, each
function the job's own param() block and body, role capabilities from the kind header."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ddperm.errors import PolicyError
from ddperm.jea import module
from ddperm.jea.module import FUNCTIONS, NOT_IN_MODULE, Role, module_files, visible_functions
from ddperm.scripts import ScriptKind, ScriptRegistry, build_manifest, manifest_text, script_root
from tests import vetting

# Approved verbs that fit ddperm's jobs (Get-Verb; learn.microsoft.com/powershell/scripting/
# developer/cmdlet/approved-verbs-for-windows-powershell-commands).
APPROVED_VERBS = {
    "Add", "Clear", "Enable", "Get", "Move", "New", "Read", "Remove", "Restart", "Set", "Start",
    "Stop", "Write",
}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> ScriptRegistry:
    return ScriptRegistry()


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "ps_scripts"
    shutil.copytree(script_root(), root)
    return root


def _functions(text: str) -> dict[str, str]:
    """Top-level function name -> the text of its script block (tree-sitter's parse)."""
    tree = vetting._PARSER.parse(text.encode())
    found = {}
    for node in vetting._walk(tree.root_node):
        if node.type == "function_statement" and not vetting._in_function(node):
            name = next(c for c in node.children if c.type == "function_name")
            block = next(c for c in node.children if c.type == "script_block")
            found[vetting._text(name)] = vetting._text(block)
    return found


def test_generation_is_deterministic_and_depends_only_on_the_scripts(tmp_path: Path) -> None:
    first = module_files()
    assert module_files() == first
    copied = ScriptRegistry(_copy(tmp_path))
    assert module_files(copied) == first


def test_every_job_has_exactly_one_function_or_a_reason(registry: ScriptRegistry) -> None:
    jobs = set(registry.names())
    assert set(FUNCTIONS) | set(NOT_IN_MODULE) == jobs
    assert not set(FUNCTIONS) & set(NOT_IN_MODULE)
    names = [name.lower() for name in FUNCTIONS.values()]
    assert len(set(names)) == len(names)
    exported = re.search(r"Export-ModuleMember -Function (.*)", module_files()[1].text)
    assert exported is not None
    assert sorted(re.findall(r"'([^']+)'", exported[1])) == sorted(FUNCTIONS.values())


def test_a_new_job_without_a_function_stops_generation(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "new_job.ps1").write_text((root / "version.ps1").read_text())
    (root / "manifest.json").write_text(manifest_text(build_manifest(root)))
    with pytest.raises(PolicyError, match="new_job"):
        module_files(ScriptRegistry(root))


@pytest.mark.parametrize("function", sorted(FUNCTIONS.values()))
def test_function_names_use_approved_verbs_and_the_ddperm_prefix(function: str) -> None:
    verb, _, noun = function.partition("-")
    assert verb in APPROVED_VERBS
    assert noun.startswith("Ddperm")


def test_no_function_shadows_a_library_function() -> None:
    libraries = vetting.library_functions(script_root())
    assert not {f.lower() for f in FUNCTIONS.values()} & set(libraries)


@pytest.mark.parametrize("script", sorted(FUNCTIONS))
def test_each_function_is_its_script_with_the_endpoint_check_first(
    registry: ScriptRegistry, script: str
) -> None:
    psm1 = module_files()[1].text
    text = registry.get(script).text
    block = _functions(psm1)[FUNCTIONS[script]]
    assert vetting.parse_parameters(block) == vetting.parse_parameters(text)
    preamble = "$ProgressPreference = 'SilentlyContinue'\n"
    checked = text.replace(preamble, preamble + "Assert-DdpermEndpoint -Root $PSScriptRoot\n", 1)
    assert checked != text
    assert f"function {FUNCTIONS[script]} {{\n{checked.rstrip()}\n}}\n" in psm1


def test_the_module_parses_and_calls_only_allowlisted_commands() -> None:
    text = module_files()[1].text
    known = frozenset(vetting.library_functions(script_root()))
    found = vetting.vet(text, library=True, known_functions=known)
    top_level = {"Set-StrictMode -Version 3", "Export-ModuleMember -Function"}
    left = [v for v in found if not any(v.text.startswith(t) for t in top_level)]
    assert left == []


def test_auditors_see_exactly_the_read_jobs(registry: ScriptRegistry) -> None:
    reads = {FUNCTIONS[n] for n in FUNCTIONS if registry.get(n).kind is ScriptKind.READ}
    assert set(visible_functions(Role.AUDITOR)) == reads
    assert set(visible_functions(Role.AUDITOR)) < set(visible_functions(Role.OPERATOR))
    assert set(visible_functions(Role.OPERATOR)) < set(visible_functions(Role.ADMINISTRATOR))
    assert set(visible_functions(Role.ADMINISTRATOR)) == set(FUNCTIONS.values())
    assert {"Start-DdpermVM", "Stop-DdpermVM", "Write-DdpermHostsFile"} <= set(
        visible_functions(Role.OPERATOR)
    )
    assert "Clear-DdpermContainersData" not in visible_functions(Role.OPERATOR)


@pytest.mark.parametrize("role", list(Role))
def test_role_capability_files_list_only_module_functions(role: Role) -> None:
    text = {f.path: f.text for f in module_files()}[module.role_file(role)]
    listed = re.findall(r"^        '([^']+)'$", text, re.M)
    assert tuple(listed) == visible_functions(role)
    assert re.findall(r"^    (\w+) =", text, re.M) == [
        "GUID", "Author", "Description", "ModulesToImport", "VisibleFunctions",
    ]  # fmt: skip


def test_a_function_for_a_job_outside_the_module_is_refused() -> None:
    with pytest.raises(PolicyError, match="jea_install"):
        module.function_for("jea_install")
    assert module.script_for("get-ddpermhealth") == "health"
    assert module.script_for("Get-VM") is None
