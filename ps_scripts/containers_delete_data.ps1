# ddperm-kind: destructive
# Deletes everything under the Windows containers data root (%ProgramData%\Docker); links as links.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DeleteAllWindowsContainersData')]
    [string]$Confirmation
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Engine
# ddperm:include Paths

# Who may own a folder here or hold write rights on it: SYSTEM, Administrators,
# TrustedInstaller, and the container-only virtual accounts ContainerAdministrator/User.
$trusted = @('S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464',
    'S-1-5-93-2-1', 'S-1-5-93-2-2')
# WriteData, AppendData, WriteEA, DeleteChild, WriteAttributes, Delete, WRITE_DAC,
# WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE.
$writeRights = [int64]0x500D0156

function Get-DdpermAclProblem {
    # Why a non-administrator could change what is inside $Folder, or $null when nobody can.
    # Only then can nothing be swapped for a link while the job walks it.
    param([string]$Folder)
    $acl = Microsoft.PowerShell.Security\Get-Acl -LiteralPath $Folder
    $owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($trusted -notcontains $owner) { return "it is owned by $owner, not by an administrator (pre-created by a user?)" }
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $inheritOnly = ($rule.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0
        if ($rule.AccessControlType -ne 'Allow' -or $inheritOnly) { continue }
        $sid = $rule.IdentityReference.Value
        if ($trusted -notcontains $sid -and (([int64]$rule.FileSystemRights -band $writeRights) -ne 0)) {
            return "$sid may write to it ($($rule.FileSystemRights))"
        }
    }
    return $null
}

$root = [System.IO.Path]::Combine([Environment]::GetFolderPath('CommonApplicationData'), 'Docker')
$report = [ordered]@{
    root = $root; root_existed = $false; files_deleted = 0; directories_deleted = 0
    bytes_freed = [int64]0; links_removed = @(); hardlinks_unlinked = @(); refused = @()
}

$engine = Get-DdpermEngineStatus
if ($engine.installed -and $engine.status -ne 'Stopped') {
    throw (New-DdpermErrorRecord 'DdpermEngineRunning' "The Windows Docker engine is $($engine.status); stop it before deleting its data." $root 'ResourceBusy')
}
$root = Assert-DdpermSafePath -Path $root -What 'Windows containers data root'
if (-not [System.IO.Directory]::Exists($root)) {
    Write-DdpermResult $report
    return
}
$report.root_existed = $true

$problem = Get-DdpermAclProblem $root
if ($null -ne $problem) {
    throw (New-DdpermErrorRecord 'DdpermUnsafeAcl' "Refusing to delete under '$root': $problem." $root)
}

function Add-DdpermRefusal {
    param([string]$Path, [string]$Reason)
    $report.refused += , ([ordered]@{ path = $Path; reason = $Reason })
}

function Remove-DdpermEntry {
    # Deletes one file, link or emptied folder; records the outcome, or why it was refused.
    param($Item)
    $path = $Item.FullName
    $isLink = ($Item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0
    $isFolder = $Item -is [System.IO.DirectoryInfo]
    $isHardlink = (-not $isLink) -and (-not $isFolder) -and ($Item.LinkType -eq 'HardLink')
    $readOnly = ($Item.Attributes -band [System.IO.FileAttributes]::ReadOnly) -ne 0
    if ($isHardlink -and $readOnly) { Add-DdpermRefusal $path 'ReadOnlyHardlink'; return }
    try {
        if ($isFolder) {
            [System.IO.Directory]::Delete($path, $false)  # RemoveDirectoryW: a link, never its target
        } else {
            if ($readOnly -and -not $isLink) { $Item.Attributes = $Item.Attributes -bxor [System.IO.FileAttributes]::ReadOnly }
            [System.IO.File]::Delete($path)
        }
    } catch {
        # .NET failures arrive wrapped (MethodInvocation / SetValueInvocation exceptions).
        $reason = $_.Exception
        if ($null -ne $reason.InnerException) { $reason = $reason.InnerException }
        if ($reason -is [System.UnauthorizedAccessException]) { Add-DdpermRefusal $path 'AccessDenied'; return }
        if ($reason -is [System.IO.IOException]) { Add-DdpermRefusal $path 'InUse'; return }
        throw
    }
    if ($isLink) { $report.links_removed += , $path }
    elseif ($isFolder) { $report.directories_deleted += 1 }
    elseif ($isHardlink) { $report.hardlinks_unlinked += , $path }
    else { $report.files_deleted += 1; $report.bytes_freed += [int64]$Item.Length }
}

function Clear-DdpermFolder {
    # Empties one real folder, children first, after re-checking that it is still no link.
    # Returns whether it is now empty.
    param([string]$Folder)
    Assert-DdpermNoLink -Path $Folder -What 'Windows containers data folder'
    $before = $report.refused.Count
    foreach ($item in @(Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $Folder -Force)) {
        $isLink = ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0
        if ($item -is [System.IO.DirectoryInfo] -and -not $isLink) {
            if ($null -ne (Get-DdpermAclProblem $item.FullName)) {
                Add-DdpermRefusal $item.FullName 'UnsafeAcl'
                continue
            }
            if (-not (Clear-DdpermFolder $item.FullName)) {
                Add-DdpermRefusal $item.FullName 'NotEmpty'
                continue
            }
        }
        Remove-DdpermEntry $item
    }
    return ($report.refused.Count -eq $before)
}

[void](Clear-DdpermFolder $root)
$report.links_removed = ConvertTo-DdpermList $report.links_removed
$report.hardlinks_unlinked = ConvertTo-DdpermList $report.hardlinks_unlinked
$report.refused = ConvertTo-DdpermList $report.refused
Write-DdpermResult $report
