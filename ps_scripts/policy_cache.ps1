# ddperm-kind: ensure
# Caches a Registry Access Management policy where developers can read but not change it, replacing the old one atomically.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$Organization,

    [Parameter(Mandatory = $true)]
    [AllowEmptyCollection()]
    [string[]]$AllowedRegistries,

    [Parameter(Mandatory = $true)]
    [string]$FetchedAt
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include Policy

if (-not (Test-DdpermPolicyFields $Organization $AllowedRegistries $FetchedAt)) {
    throw (New-DdpermPolicyError 'DdpermPolicyInvalid' 'Refused the policy: the organization, a registry name (host name with optional port, lowercase, no wildcards, at most 100, no duplicates) or the fetch time (UTC, ISO 8601) is not valid. Nothing was changed.' 'InvalidArgument')
}
# Users may create folders in ProgramData, so only the token says who may cache a policy.
$principal = New-Object System.Security.Principal.WindowsPrincipal ([System.Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))) {
    throw (New-DdpermPolicyError 'DdpermPolicyAccessDenied' "Access to '$DdpermPolicyFolder' is denied; caching the policy needs an elevated administrator. The old cache, if any, is unchanged." 'PermissionDenied')
}
$untrusted = "is a link, is not owned by SYSTEM or Administrators, or does not carry ddperm's protected ACL (someone else created it or changed it). Delete it and cache the policy again. Nothing was changed."
if ((Test-DdpermPolicyEntry $DdpermPolicyFolder) -and -not (Test-DdpermPolicyTrusted -Path $DdpermPolicyFolder)) {
    throw (New-DdpermPolicyError 'DdpermPolicyUntrusted' "Refused: '$DdpermPolicyFolder' $untrusted" 'SecurityError')
}
if ((Test-DdpermPolicyEntry $DdpermPolicyFile) -and $null -eq (Get-DdpermPolicySecurity -Path $DdpermPolicyFile)) {
    throw (New-DdpermPolicyError 'DdpermPolicyUntrusted' "Refused: '$DdpermPolicyFile' $untrusted" 'SecurityError')
}
$policy = Microsoft.PowerShell.Utility\ConvertTo-Json -Compress -Depth 3 -InputObject ([ordered]@{
    organization       = $Organization
    allowed_registries = @($AllowedRegistries)
    fetched_at         = $FetchedAt
})
$sha256 = Get-DdpermTextSha256 -Text $policy
$document = Microsoft.PowerShell.Utility\ConvertTo-Json -Compress -InputObject ([ordered]@{
    format = 1
    sha256 = $sha256
    policy = $policy
})
$bytes = (New-Object System.Text.UTF8Encoding $false).GetBytes($document)
# A fresh name nobody can have planted anything at, and CreateNew never opens what exists.
$temp = $DdpermPolicyFolder + '\registry-access-policy.' + [System.Guid]::NewGuid().ToString('N') + '.tmp'
try {
    if (-not (Test-DdpermPolicyEntry $DdpermPolicyFolder)) {
        New-DdpermDirectory -Path $DdpermPolicyFolder -Security (New-DdpermAdminFolderSecurity -Readers @('S-1-5-32-545'))
        if (-not (Test-DdpermPolicyTrusted -Path $DdpermPolicyFolder)) {  # a user made it first
            throw (New-DdpermPolicyError 'DdpermPolicyUntrusted' "Refused: '$DdpermPolicyFolder' $untrusted" 'SecurityError')
        }
    }
    $stream = New-Object System.IO.FileStream @($temp, [System.IO.FileMode]::CreateNew,
        [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 4096,
        [System.IO.FileOptions]::WriteThrough)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    Set-DdpermPolicyFileAcl -Path $temp
    if ([System.IO.File]::Exists($DdpermPolicyFile)) {
        # No backup; [NullString] because PowerShell would pass $null as an empty path.
        [System.IO.File]::Replace($temp, $DdpermPolicyFile, [System.Management.Automation.Language.NullString]::Value)
        Set-DdpermPolicyFileAcl -Path $DdpermPolicyFile  # File.Replace keeps the old file's ACL
    } else {
        [System.IO.File]::Move($temp, $DdpermPolicyFile)
    }
} catch [System.UnauthorizedAccessException] {
    throw (New-DdpermPolicyError 'DdpermPolicyAccessDenied' "Access to '$DdpermPolicyFolder' is denied; caching the policy needs an elevated administrator. The old cache, if any, is unchanged." 'PermissionDenied')
} catch [System.IO.IOException] {
    throw (New-DdpermPolicyError 'DdpermPolicyLocked' "The policy cache '$DdpermPolicyFile' is in use by another program; the old cache is unchanged. Retry." 'ResourceBusy')
} finally {
    if ([System.IO.File]::Exists($temp)) { [System.IO.File]::Delete($temp) }
}
Write-DdpermResult ([ordered]@{
    path               = $DdpermPolicyFile
    organization       = $Organization
    allowed_registries = ConvertTo-DdpermList $AllowedRegistries
    fetched_at         = $FetchedAt
    sha256             = $sha256
})
