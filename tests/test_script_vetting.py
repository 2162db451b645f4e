"""Static vetting of every ps_scripts/ file with tree-sitter's PowerShell grammar.

The scripts are vetted as they are on disk now (``vetting.fresh_registry``); whether the
manifest pins them is tested in test_scripts_registry.py. Each rule of tests/vetting.py
is shown to fire on a small bad script and to stay quiet on good ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ddperm.testing.jobs  # noqa: F401  (registers the twin handlers)
from ddperm.scripts import ScriptRegistry, build_manifest, manifest_text, script_root
from ddperm.testing import dispatch
from ddperm.transports.local import wrapper_text
from tests import vetting

ROOT = script_root()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ScriptRegistry:
    return vetting.fresh_registry(tmp_path_factory.mktemp("vetting"))


def _report(violations: list[vetting.Violation]) -> str:
    return "\n".join(map(str, violations))


# -- the real scripts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", vetting.job_names(ROOT))
def test_job_script_passes_vetting(registry: ScriptRegistry, name: str) -> None:
    violations = vetting.vet_job(registry, name)
    assert violations == [], _report(violations)


@pytest.mark.parametrize("relative", vetting.library_files(ROOT))
def test_library_passes_vetting(registry: ScriptRegistry, relative: str) -> None:
    violations = vetting.vet_library(registry.root, relative)
    assert violations == [], _report(violations)


@pytest.mark.parametrize(
    ("name", "old", "new", "rules"),
    [
        ("Bad-Name", "", "", {"assembly"}),
        ("no_lib", "# ddperm:include Common\n", "# ddperm:include NoSuchLib\n", {"assembly"}),
        ("no_kind", "# ddperm-kind: read\n", "", {"assembly", "kind-line"}),
        ("no_common", "# ddperm:include Common\n", "", {"not-allowlisted"}),
        ("latin1", "the host's", "the host\xe9s", {"assembly", "ascii"}),
    ],
)
def test_script_the_registry_refuses_or_misassembles_is_reported(
    tmp_path: Path, name: str, old: str, new: str, rules: set[str]
) -> None:
    root = vetting.fresh_registry(tmp_path).root
    text = _apply((root / "version.ps1").read_text(), old, new)
    (root / f"{name}.ps1").write_bytes(text.encode("latin-1"))
    (root / "manifest.json").write_text(manifest_text(build_manifest(root)))
    violations = vetting.vet_job(ScriptRegistry(root), name)
    assert {v.rule for v in violations} == rules | {"twin-params"}, _report(violations)
    assert {v.file for v in violations} == {f"{name}.ps1"}
    if name == "no_common":
        assert "Write-DdpermResult (defined in lib/Common.ps1, not included)" in _report(violations)


def test_every_twin_handler_has_a_script() -> None:
    assert set(dispatch.HANDLERS) <= set(vetting.job_names(ROOT))


@pytest.mark.parametrize("name", vetting.job_names(ROOT))
def test_violation_lines_point_into_the_right_file(registry: ScriptRegistry, name: str) -> None:
    assembled = registry.get(name).text.split("\n")
    origin = vetting.line_sources(registry, name)
    assert len(origin) == len(assembled)
    for text, (relative, line) in zip(assembled, origin, strict=True):
        assert vetting.read_source(registry.root / relative).split("\n")[line - 1] == text


# -- every rule fires on a bad script ---------------------------------------------------------

GOOD = """\
# ddperm-kind: read
# A clean script; each negative case breaks one convention.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function Write-DdpermResult {
    param([Parameter(Mandatory = $true)] [AllowNull()] $InputObject)
    Microsoft.PowerShell.Utility\\ConvertTo-Json -InputObject $InputObject -Depth 8 -Compress
}

function Get-DdpermVM {
    param([string]$Name)
    @(Hyper-V\\Get-VM -Name $Name)
}

$vm = Get-DdpermVM -Name $VMName
#BODY
Write-DdpermResult ([ordered]@{ state = [string]$vm.State })
"""
GOOD_LIBRARY = """\
# A library: functions and data only.
$DdpermLimit = @(1, 2)

function Get-DdpermThing {
    param([Parameter(Mandatory = $true)] [scriptblock]$Check)
    & $Check
}
"""
PIN = "[Parameter(Mandatory = $true)]\n    [ValidateSet('DockerDesktopVM')]\n    [string]$VMName"
BASES = {
    "job": GOOD,  # touches Hyper-V through a function
    "plain": GOOD.replace("$vm = Get-DdpermVM -Name $VMName", "$vm = Get-Date"),  # does not
    "library": GOOD_LIBRARY,
}
PARAM_BLOCK = f"[CmdletBinding()]\nparam(\n    {PIN}\n)\n"

STOP_JOB = "$job = Hyper-V\\Stop-VM -VM $vm -AsJob"
REMOVE_JOB = "Microsoft.PowerShell.Core\\Remove-Job -Job $job -Force"
# (rule, base, old text, new text): one bad script each, breaking exactly one rule.
BAD: list[tuple[str, str, str, str]] = [
    ("syntax", "job", "#BODY", "$x = @(1,)"),
    ("syntax", "job", "#BODY", "$x = 1 +* 2"),
    ("syntax", "job", "#BODY", "$h = @{ a = }"),
    ("syntax", "job", "#BODY", "foreach ($i) { 1 }"),
    ("not-allowlisted", "job", "#BODY", "Microsoft.PowerShell.Management\\Restart-Computer"),
    ("not-allowlisted", "job", "#BODY", "Hyper-V\\Checkpoint-VM -VM $vm"),
    ("not-allowlisted", "job", "#BODY", "Restart-Computer -Force"),
    (
        "not-allowlisted",
        "job",
        "#BODY",
        "CimCmdlets\\Invoke-CimMethod -ClassName Win32_Process -MethodName Create",
    ),
    (
        "not-allowlisted",
        "job",
        "#BODY",
        "CimCmdlets\\Invoke-CimMethod -InputObject $o -MethodName 'SetIntegerElement'"
        " -Arguments @{ Type = [uint32]0x16000049; Integer = [uint64]1 }",
    ),
    ("not-allowlisted", "job", "#BODY", "cmd.exe /c dir"),
    ("not-allowlisted", "job", "#BODY", "C:\\Windows\\System32\\shutdown.exe /r /t 5"),
    (
        "not-allowlisted",
        "job",
        "#BODY",
        "CimCmdlets\\Invoke-CimMethod -InputObject $o -MethodName $m",
    ),
    ("not-allowlisted", "job", "#BODY", "VMware.VimAutomation.Core\\Get-VM -Name $VMName"),
    ("not-allowlisted", "job", "#BODY", "Write-Host $vm"),
    ("not-allowlisted", "job", "#BODY", "gci C:\\"),
    ("not-allowlisted", "job", "#BODY", "Get-DdpermMissing"),
    ("unqualified-module", "job", "#BODY", "Get-VM -Name $VMName"),
    ("unqualified-module", "job", "#BODY", "Stop-VM -Name $VMName"),
    ("unqualified-module", "job", "#BODY", "Get-WindowsOptionalFeature -Online"),
    ("unqualified-module", "job", "#BODY", "Get-CimInstance -ClassName Win32_OperatingSystem"),
    ("forbidden", "job", "#BODY", "Invoke-Expression 'Get-Date'"),
    ("forbidden", "job", "#BODY", "iex 'Get-Date'"),
    ("forbidden", "job", "#BODY", "Microsoft.PowerShell.Utility\\Invoke-Expression 'x'"),
    ("forbidden", "job", "#BODY", "Add-Type -TypeDefinition 'public class X {}'"),
    ("forbidden", "job", "#BODY", "$s = [scriptblock]::Create('Get-Date')"),
    ("forbidden", "job", "#BODY", "$s = [System.Management.Automation.ScriptBlock]::Create('x')"),
    ("forbidden", "job", "#BODY", "Start-Process -FilePath notepad.exe"),
    ("forbidden", "job", "#BODY", "Invoke-Command -ScriptBlock { Get-Date }"),
    ("forbidden", "job", "#BODY", "Invoke-WebRequest -Uri 'http://example.invalid/'"),
    ("forbidden", "job", "#BODY", "Invoke-RestMethod -Uri 'http://example.invalid/'"),
    ("forbidden", "job", "#BODY", "$w = New-Object Net.WebClient"),
    ("forbidden", "job", "#BODY", "$w = New-Object -TypeName 'System.Net.WebClient'"),
    ("forbidden", "job", "#BODY", "$w = [System.Net.WebClient]::new()"),
    ("forbidden", "job", "#BODY", "& $command"),
    ("forbidden", "job", "#BODY", "& 'Get-Date'"),
    ("forbidden", "job", "#BODY", '& "Get-$noun"'),
    ("forbidden", "job", "#BODY", ". $path"),
    ("forbidden", "job", "#BODY", ". .\\other.ps1"),
    ("forbidden", "job", "#BODY", ". 'C:\\other.ps1'"),
    ("forbidden", "job", "#BODY", "$ExecutionContext.InvokeCommand.InvokeScript('Get-Date')"),
    ("forbidden", "job", "#BODY", "$o = New-Object -ComObject Shell.Application"),
    ("forbidden", "job", "#BODY", "$o = New-Object -Com Shell.Application"),
    ("forbidden", "job", "#BODY", "$p = [System.Diagnostics.Process]::Start('cmd.exe')"),
    ("forbidden", "job", "#BODY", "$a = [Reflection.Assembly]::LoadFile('C:\\x.dll')"),
    ("forbidden", "job", "#BODY", "$p = [powershell]::Create()"),
    ("forbidden", "job", "#BODY", "$i = New-Object System.Diagnostics.ProcessStartInfo"),
    ("forbidden", "library", "[scriptblock]$Check", "$Check"),  # & $Check, untyped
    ("forbidden", "library", "[scriptblock]$Check", "[string]$Check"),
    ("ps7-syntax", "job", "#BODY", "$a = $vm ?? 1"),
    ("ps7-syntax", "job", "#BODY", "$vm ??= 1"),
    ("ps7-syntax", "job", "#BODY", "$a = $vm ? 1 : 2"),
    ("ps7-syntax", "job", "#BODY", "Get-Date && Get-Date"),
    ("ps7-syntax", "job", "#BODY", "Get-Date || Get-Date"),
    ("ps7-syntax", "job", "#BODY", "function Get-It { process { 1 } clean { 2 } }"),
    ("ps7-syntax", "job", "#BODY", "$a = @(1) | ForEach-Object -Parallel { $_ }"),
    ("ps7-syntax", "job", "#BODY", "$j = ConvertTo-Json -InputObject @(1) -AsArray"),
    ("ps7-syntax", "job", "#BODY", "$j = ConvertTo-Json -InputObject $vm -EnumsAsStrings"),
    (
        "ps7-syntax",
        "job",
        "#BODY",
        "if ($PSVersionTable.PSEdition -eq 'Desktop') {\n"
        "    $h = '{}' | ConvertFrom-Json -AsHashtable\n}",
    ),
    (
        "ps7-syntax",
        "job",
        "#BODY",
        "if ($PSVersionTable.PSEdition -eq 'Desktop') { $h = '{}' | ConvertFrom-Json -AsHash }",
    ),
    (
        "ps7-syntax",
        "job",
        "#BODY",
        "if ($PSVersionTable.PSEdition -eq 'Desktop') {\n"
        "    $h = '[]' | ConvertFrom-Json -Depth 3 -NoEnumerate\n}",
    ),
    ("ps7-syntax", "job", "#BODY", "$d = Get-Date -AsUTC"),
    ("ps7-syntax", "job", "#BODY", "Get-Error"),
    ("kind-line", "job", "# ddperm-kind: read\n", ""),
    ("kind-line", "job", "# ddperm-kind: read", "# ddperm-kind: sometimes"),
    ("kind-line", "job", "# ddperm-kind: read\n# A", "# A\n# ddperm-kind: read\n# A"),
    ("param-first", "job", "[CmdletBinding()]\n", ""),
    ("param-first", "plain", PARAM_BLOCK, ""),
    ("preamble", "job", "Set-StrictMode -Version 3\n", ""),
    ("preamble", "job", "Set-StrictMode -Version 3", "Set-StrictMode -Version 2"),
    ("preamble", "job", "$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Continue'"),
    ("preamble", "job", "$ProgressPreference = 'SilentlyContinue'\n", ""),
    ("preamble", "job", "Set-StrictMode -Version 3\n", "$x = 1\nSet-StrictMode -Version 3\n"),
    ("output", "job", "Write-DdpermResult (", "Microsoft.PowerShell.Utility\\ConvertTo-Json ("),
    ("snake-case", "job", "[ordered]@{ state =", "[ordered]@{ State ="),
    ("snake-case", "job", "[ordered]@{ state =", "[ordered]@{ vmState ="),
    ("snake-case", "job", "[ordered]@{ state =", "[ordered]@{ 'vm-state' ="),
    ("snake-case", "job", "#BODY", "$o = [ordered]@{ a = [ordered]@{ Inner = 1 } }"),
    ("error-record", "job", "#BODY", "if (-not $vm) { throw 'The VM is missing.' }"),
    ("error-record", "job", "#BODY", 'throw "VM $VMName is missing"'),
    ("ascii", "job", "#BODY", "# caf\u00e9"),
    ("ascii", "job", "#BODY", "$s = 'a\u2013b'"),
    ("cr", "job", "#BODY", "$x = 1\r"),
    ("vm-pin", "job", PIN, "[string]$Other"),
    ("vm-pin", "job", "#BODY", "Hyper-V\\Start-VM -Name 'DockerDesktopVM'"),
    ("vm-pin", "job", "#BODY", "Hyper-V\\Stop-VM -Name '*'"),
    ("vm-pin", "job", "#BODY", "$all = Hyper-V\\Get-VM"),
    ("vm-pin", "job", "#BODY", "$d = Hyper-V\\Get-VMHardDiskDrive -VMName $other"),
    ("vm-pin", "job", "#BODY", "$v = Get-DdpermVM -Name 'minikube'"),
    ("vm-pin", "job", "Get-DdpermVM -Name $VMName", "Get-DdpermVM -Name $other"),
    ("vm-pin", "job", "Get-VM -Name $Name", 'Get-VM -Name "$Name*"'),
    ("vm-pin", "job", "Get-VM -Name $Name", "Get-VM -Name $other"),
    ("vm-pin", "job", "Get-DdpermVM -Name $VMName", "Get-DdpermVM $VMName"),
    ("vm-pin", "job", "#BODY", "$VMName = 'minikube'"),
    ("vm-pin", "job", "#BODY", "foreach ($VMName in @('a', 'b')) { $x = 1 }"),
    (
        "literal-path",
        "job",
        "#BODY",
        "$e = Microsoft.PowerShell.Management\\Test-Path -Path 'C:\\x'",
    ),
    ("literal-path", "job", "#BODY", "Microsoft.PowerShell.Management\\Remove-Item $vm.Path"),
    ("literal-path", "job", "#BODY", "$e = Test-Path 'C:\\x'"),
    ("hyperv-job", "job", "#BODY", "$r = $job.ChildJobs[0].JobStateInfo.Reason"),
    ("hyperv-job", "job", "#BODY", "$r = $job.childjobs[$i]"),
    ("hyperv-job", "job", "#BODY", STOP_JOB),
    ("hyperv-job", "job", "#BODY", "Hyper-V\\Stop-VM -VM $vm -As"),
    ("hyperv-job", "job", "#BODY", f"try {{ {STOP_JOB} }} finally {{ {REMOVE_JOB} }}"),  # no .Error
    (
        "hyperv-job",
        "job",
        "#BODY",
        f"try {{ {STOP_JOB}; $e = @($x.Error) }} finally {{ {REMOVE_JOB} }}",
    ),
    (
        "hyperv-job",
        "job",
        "#BODY",
        f"{STOP_JOB}\n$e = @($job.Error)\n{REMOVE_JOB}",
    ),  # not in a finally
    ("acl-instance-method", "job", "#BODY", "$s = $info.GetAccessControl('Access')"),
    ("acl-instance-method", "job", "#BODY", "$info.SetAccessControl($s)"),
    (
        "acl-instance-method",
        "job",
        "#BODY",
        "$s = (New-Object System.IO.DirectoryInfo 'C:\\x').GetAccessControl()",
    ),
    (
        "json-dates",
        "job",
        "#BODY",
        "$h = Microsoft.PowerShell.Utility\\ConvertFrom-Json -InputObject '{}'",
    ),
    ("json-dates", "job", "#BODY", "$h = '{}' | ConvertFrom-Json"),
    (
        "json-dates",
        "job",
        "#BODY",
        "if ($PSVersionTable.PSEdition -eq 'Core') { $h = ConvertFrom-Json -InputObject $t }",
    ),
    (
        "json-dates",
        "job",
        "#BODY",
        "if ($PSVersionTable.PSVersion.Major -lt 6) { $h = ConvertFrom-Json -InputObject $t }",
    ),
    ("library-shape", "library", "$DdpermLimit = @(1, 2)", "$DdpermLimit = Get-Date"),
    ("library-shape", "library", "$DdpermLimit = @(1, 2)", "Set-StrictMode -Off"),
    ("library-shape", "library", "$DdpermLimit = @(1, 2)", "[CmdletBinding()]\nparam()"),
    (
        "not-allowlisted",  # resolves every member; fails on one without a name (#2996)
        "job",
        "#BODY",
        "$m = Microsoft.PowerShell.LocalAccounts\\Get-LocalGroupMember -Name 'docker-users'",
    ),
    (
        "plain-argument",  # a deserialized SecurityIdentifier does not bind back (pwsh WinCompat)
        "job",
        "#BODY",
        "Microsoft.PowerShell.LocalAccounts\\Add-LocalGroupMember -SID $group.SID -Member 'x'",
    ),
    ("loop-pipeline", "job", "#BODY", "foreach ($l in $t) { $n = @($l | Where-Object { $_ }) }"),
    ("loop-pipeline", "job", "#BODY", "while ($true) { $l = $t | ForEach-Object { $_ } }"),
]
# A $VMName parameter must be pinned exactly, whether or not the script uses Hyper-V.
BAD += [
    ("vm-pin", base, old, new)
    for base in ("job", "plain")
    for old, new in [
        ("('DockerDesktopVM')", "('DockerDesktopVM', 'minikube')"),
        ("('DockerDesktopVM')", "('*')"),
        ("('DockerDesktopVM')", "('dockerdesktopvm')"),
        ("(Mandatory = $true)", "()"),
        ("(Mandatory = $true)", "(Mandatory = $false)"),
        ("[string]$VMName", "[string[]]$VMName"),
        ("[string]$VMName", "[object]$VMName"),
        ("[string]$VMName", "$VMName"),
        ("[string]$VMName", "[string]$VMName = 'DockerDesktopVM'"),
        ("    [ValidateSet('DockerDesktopVM')]\n", ""),
        ("    [ValidateSet('DockerDesktopVM')]\n", "    [ValidatePattern('.*')]\n"),
        ("[string]$VMName", "[string]$vmname"),
    ]
]


def _apply(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is not in the template"
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("rule", "base", "old", "new"), BAD, ids=[f"{r}-{b}:{n!r}" for r, b, _, n in BAD]
)
def test_rule_catches_bad_script(rule: str, base: str, old: str, new: str) -> None:
    violations = vetting.vet(_apply(BASES[base], old, new), library=base == "library")
    assert {v.rule for v in violations} == {rule}, _report(violations)
    if old == "#BODY":  # reported on the inserted line(s)
        first = GOOD.split("\n").index("#BODY") + 1
        assert any(first <= v.line <= first + new.count("\n") for v in violations)


@pytest.mark.parametrize("snippet", ["$a = ${vm}?.State", "$a = ${vm}?[0]"])
def test_null_conditional_access_is_ps7(snippet: str) -> None:
    # not in the grammar: a syntax error as well
    rules = {v.rule for v in vetting.vet(_apply(GOOD, "#BODY", snippet))}
    assert {"ps7-syntax", "syntax"} <= rules


def test_vm_pin_follows_calls_through_library_functions() -> None:
    [violation] = vetting.vet(_apply(GOOD, PIN, "[string]$Name"))
    assert violation.rule == "vm-pin"
    assert "hyper-v\\get-vm" in violation.text


@pytest.mark.parametrize(
    "params",
    [{"VMName": False}, {}, {"VMName": True, "Force": False}, {"vmname": True}],
)
def test_twin_params_must_equal_the_handler(params: dict[str, bool]) -> None:
    violations = vetting.vet(GOOD, params=params)
    assert [v.rule for v in violations] == ["twin-params"], _report(violations)


def test_cr_anywhere_is_caught() -> None:
    violations = vetting.vet(GOOD.replace("\n", "\r\n"))
    assert [v.rule for v in violations] == ["cr"], _report(violations)


def test_bom_is_caught() -> None:
    rules = {v.rule for v in vetting.vet("\ufeff" + GOOD)}
    assert "ascii" in rules


def test_every_rule_has_a_negative_case() -> None:
    covered = {rule for rule, _, _, _ in BAD} | {"twin-params", "assembly"}
    assert covered == set(vetting.RULES)


# -- good scripts pass ------------------------------------------------------------------------


def test_good_script_and_library_pass() -> None:
    assert vetting.vet(GOOD) == []
    assert vetting.vet(GOOD, params={"VMName": True}) == []
    assert vetting.vet(GOOD_LIBRARY, library=True) == []


def test_script_without_hyperv_needs_no_vm_name() -> None:
    assert vetting.vet(_apply(BASES["plain"], PIN, "[switch]$Force")) == []
    assert vetting.vet(_apply(BASES["plain"], PARAM_BLOCK, "[CmdletBinding()]\nparam()\n")) == []


GOOD_SNIPPETS = [
    "$a = & { Get-Date }",
    ". { $b = 1 }",
    "$r = 1..3 | ForEach-Object { $_ }",
    "$r = 0..($vm.Count - 1)",
    "$d = Microsoft.PowerShell.Utility\\Get-Date",
    "$n = @($vm) | Where-Object { $_.Name -ceq $VMName } | ForEach-Object { $_ }",
    "$e = New-Object System.InvalidOperationException 'x'",
    "$s = 'a ?? b ?. c && d'",
    "# comment: ?? ?. && || Invoke-Expression",
    "$j = Microsoft.PowerShell.Utility\\ConvertTo-Json -InputObject $vm -Compress",
    "if ($PSVersionTable.PSEdition -eq 'Core') {\n    $h = 1\n} else {\n"
    "    $h = Microsoft.PowerShell.Utility\\ConvertFrom-Json -InputObject '{}'\n}",
    "if ($PSVersionTable.PSEdition -ne \"Core\") { $h = ConvertFrom-Json -InputObject '{}' }",
    "if ($PSVersionTable.PSEdition -eq 'Desktop') { $h = ConvertFrom-Json -InputObject $t }",
    "$s = [System.IO.FileSystemAclExtensions]::GetAccessControl($info)",
    "$a = Microsoft.PowerShell.Security\\Get-Acl -LiteralPath 'C:\\x'",
    "$x = [System.IO.File]::GetAttributes('C:\\x')",
    "$c = CimCmdlets\\Get-CimInstance -ClassName Win32_ComputerSystem",
    "$f = Dism\\Get-WindowsOptionalFeature -Online -FeatureName 'Microsoft-Hyper-V'",
    "if ($vm.Count -ne 1) { throw $failure }",
    "if ($vm.Count -ne 1) { throw (New-Object System.InvalidOperationException 'x') }",
    "try { $x = 1 } catch [System.IO.IOException] { throw } finally { $y = 2 }",
    "switch ([string]$vm.State) {\n    'Running' { $r = 1 }\n    default { $r = 0 }\n}",
    "$t = @'\nhere ?? string\n'@",
    "Hyper-V\\Start-VM -VM $vm",
    "try { $j = Hyper-V\\Stop-VM -VM $vm -AsJob; $e = @($j.Error) }"
    " finally { Microsoft.PowerShell.Core\\Remove-Job -Job $j -Force }",
    "$d = Hyper-V\\Get-VMHardDiskDrive -VMName $VMName",
    "$e = Microsoft.PowerShell.Management\\Test-Path -LiteralPath 'C:\\x'",
    "$x = [System.IO.Path]::Combine('C:\\', 'x')",
    "$e = CimCmdlets\\Invoke-CimMethod -InputObject $s -MethodName 'GetElement' -Arguments @{}",
    "$a = @{ Type = [uint32]0x250000F0 }",
    "$s = CimCmdlets\\Invoke-CimMethod -InputObject $o -MethodName 'SetIntegerElement'"
    " -Arguments @{ Type = [uint32]0x250000F0; Integer = [uint64]1 }",
    "$null = shutdown.exe /r /t 10",
    "$d = (Get-Date).ToUniversalTime().ToString('o')",
    "$o = [ordered]@{ vm_state = 'x'; 'disk_size' = 1; nested = @{ Any = 1 } }",
]


@pytest.mark.parametrize("snippet", GOOD_SNIPPETS)
def test_good_snippet_passes(snippet: str) -> None:
    violations = vetting.vet(_apply(GOOD, "#BODY", snippet))
    assert violations == [], _report(violations)


@pytest.mark.parametrize(
    "block",
    [
        "param([Parameter(Mandatory)] [string]$A, [switch]$B)",
        "param([Parameter(Mandatory = $true)] [int]$A, [Parameter(Mandatory = $false)] $B)",
        "param([Parameter(Mandatory = $true)]\n[string]$A,\n$B = 3)",
    ],
)
def test_parameters_are_read_with_mandatory_flags(block: str) -> None:
    assert vetting.parse_parameters(f"[CmdletBinding()]\n{block}\n") == {"A": True, "B": False}


def test_allowlist_is_well_formed() -> None:
    names = [f"{f.module}\\{c}".lower() for f in vetting.ALLOWLIST for c in f.cmdlets.split()]
    assert len(names) == len(set(names)), "a cmdlet is listed twice"
    assert all(f.reason.strip() for f in vetting.ALLOWLIST)
    bare = {name.rpartition("\\")[2] for name in names}
    assert not bare & (vetting.FORBIDDEN_COMMANDS | vetting.PS7_COMMANDS)


def test_every_allowlisted_cmdlet_is_used() -> None:
    """Least privilege: an entry no script uses any more is removed from the allowlist."""
    used = vetting.commands_used(ROOT)
    used |= {name.rpartition("\\")[2] for name in used}  # core cmdlets may be written bare
    listed = {(f.module, c) for f in vetting.ALLOWLIST for c in f.cmdlets.split()}
    unused = {
        f"{m}\\{c}" for m, c in listed if f"{m}\\{c}".lower() not in used and c.lower() not in used
    }
    assert not unused, f"allowlisted but used by no script: {sorted(unused)}"


def test_scripts_folder_is_not_empty() -> None:
    assert vetting.job_names(ROOT)
    assert vetting.library_files(ROOT)
    assert Path(ROOT, "lib", "Common.ps1").is_file()


def test_the_local_wrapper_reads_json_the_same_on_both_editions() -> None:
    found = {v.rule for v in vetting.vet(wrapper_text(), library=True)}
    assert not found & {vetting.ACL_METHOD, vetting.JSON_DATES}
