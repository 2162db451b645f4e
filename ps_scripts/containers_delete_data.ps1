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

function Get-DdpermRefusalReason {
    # Why Windows refused to list, read or delete one entry, from the error record a catch
    # got (.NET failures arrive wrapped: MethodInvocation, GetValueInvocation and
    # ActionPreferenceStop exceptions). Windows PowerShell 5.1 refuses paths over MAX_PATH.
    param([Parameter(Mandatory = $true)] [System.Management.Automation.ErrorRecord]$Record)
    $exception = $Record.Exception
    if ($exception -is [System.Management.Automation.ActionPreferenceStopException]) { $exception = $exception.ErrorRecord.Exception }
    while ($null -ne $exception) {
        if ($exception -is [System.IO.PathTooLongException]) { return 'PathTooLong' }
        if ($exception -is [System.UnauthorizedAccessException]) { return 'AccessDenied' }
        if ($exception -is [System.IO.FileNotFoundException] -or $exception -is [System.IO.DirectoryNotFoundException]) { return 'Failed' }
        if ($exception -is [System.IO.IOException]) { return 'InUse' }
        if ($exception -is [System.ComponentModel.Win32Exception]) {
            $code = $exception.NativeErrorCode
            if ($code -eq 5) { return 'AccessDenied' }
            if ($code -eq 32 -or $code -eq 33) { return 'InUse' }
            if ($code -eq 206) { return 'PathTooLong' }
        }
        $exception = $exception.InnerException
    }
    return 'Failed'
}

function Remove-DdpermEntry {
    # Deletes one file, link or emptied folder; records the outcome, or why it was refused.
    # Everything Windows may refuse is inside the try, LinkType included: 5.1 opens the file
    # to count its names, which fails on one an administrator may not read or that is open.
    param($Item)
    $path = $Item.FullName
    $isLink = ($Item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0
    $isFolder = $Item -is [System.IO.DirectoryInfo]
    $readOnly = ($Item.Attributes -band [System.IO.FileAttributes]::ReadOnly) -ne 0
    try {
        $isHardlink = (-not $isLink) -and (-not $isFolder) -and ($Item.LinkType -eq 'HardLink')
        if ($isHardlink -and $readOnly) { Add-DdpermRefusal $path 'ReadOnlyHardlink'; return }
        if ($isFolder) {
            [System.IO.Directory]::Delete($path, $false)  # RemoveDirectoryW: a link, never its target
        } else {
            if ($readOnly -and -not $isLink) { $Item.Attributes = $Item.Attributes -bxor [System.IO.FileAttributes]::ReadOnly }
            [System.IO.File]::Delete($path)
        }
    } catch {
        Add-DdpermRefusal $path (Get-DdpermRefusalReason $_)
        return
    }
    if ($isLink) { $report.links_removed += , $path }
    elseif ($isFolder) { $report.directories_deleted += 1 }
    elseif ($isHardlink) { $report.hardlinks_unlinked += , $path }
    else { $report.files_deleted += 1; $report.bytes_freed += [int64]$Item.Length }
}

function Get-DdpermFolderRefusal {
    # Why a folder inside the root is not entered: a non-administrator could change it
    # (UnsafeAcl), or its ACL cannot be read; $null when it may be emptied.
    param([string]$Folder)
    try {
        if ($null -ne (Get-DdpermAclProblem $Folder)) { return 'UnsafeAcl' }
    } catch {
        return (Get-DdpermRefusalReason $_)
    }
    return $null
}

function Clear-DdpermFolder {
    # Empties one real folder, children first, after re-checking that it is still no link.
    # Returns $null when it is empty now, else why not: NotEmpty, or why it could not be
    # listed (PathTooLong: 5.1 cannot list a folder holding a path over MAX_PATH).
    param([string]$Folder)
    Assert-DdpermNoLink -Path $Folder -What 'Windows containers data folder'
    try {
        $items = @(Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $Folder -Force)
    } catch {
        return (Get-DdpermRefusalReason $_)
    }
    $before = $report.refused.Count
    foreach ($item in $items) {
        $isLink = ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0
        if ($item -is [System.IO.DirectoryInfo] -and -not $isLink) {
            $reason = Get-DdpermFolderRefusal $item.FullName
            if ($null -eq $reason) { $reason = Clear-DdpermFolder $item.FullName }
            if ($null -ne $reason) {
                Add-DdpermRefusal $item.FullName $reason
                continue
            }
        }
        Remove-DdpermEntry $item
    }
    if ($report.refused.Count -eq $before) { return $null }
    return 'NotEmpty'
}

$reason = Clear-DdpermFolder $root
if ($null -ne $reason -and $reason -ne 'NotEmpty') { Add-DdpermRefusal $root $reason }
$report.links_removed = ConvertTo-DdpermList $report.links_removed
$report.hardlinks_unlinked = ConvertTo-DdpermList $report.hardlinks_unlinked
$report.refused = ConvertTo-DdpermList $report.refused
Write-DdpermResult $report
