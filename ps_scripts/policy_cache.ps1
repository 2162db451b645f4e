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
# ddperm:include Policy

if (-not (Test-DdpermPolicyFields $Organization $AllowedRegistries $FetchedAt)) {
    throw (New-DdpermPolicyError 'DdpermPolicyInvalid' 'Refused the policy: the organization, a registry name (host name with optional port, lowercase, no wildcards, at most 100, no duplicates) or the fetch time (UTC, ISO 8601) is not valid. Nothing was changed.' 'InvalidArgument')
}
foreach ($existing in @(@($DdpermPolicyFolder, $true), @($DdpermPolicyFile, $false))) {
    if ([System.IO.Directory]::Exists($existing[0]) -or [System.IO.File]::Exists($existing[0])) {
        if ($null -eq (Get-DdpermPolicySecurity -Path $existing[0] -Folder $existing[1])) {
            throw (New-DdpermPolicyError 'DdpermPolicyUntrusted' "Refused: '$($existing[0])' is a link or is not owned by SYSTEM or Administrators (someone else created it). Delete it and cache the policy again. Nothing was changed." 'SecurityError')
        }
    }
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
$temp = $DdpermPolicyFile + '.tmp'
try {
    [void][System.IO.Directory]::CreateDirectory($DdpermPolicyFolder)
    Set-DdpermPolicyAcl -Path $DdpermPolicyFolder -Folder $true
    $stream = New-Object System.IO.FileStream @($temp, [System.IO.FileMode]::Create,
        [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 4096,
        [System.IO.FileOptions]::WriteThrough)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    Set-DdpermPolicyAcl -Path $temp -Folder $false
    if ([System.IO.File]::Exists($DdpermPolicyFile)) {
        # No backup; [NullString] because PowerShell would pass $null as an empty path.
        [System.IO.File]::Replace($temp, $DdpermPolicyFile, [System.Management.Automation.Language.NullString]::Value)
    } else {
        [System.IO.File]::Move($temp, $DdpermPolicyFile)
    }
    # File.Replace keeps the old file's ACL: set the protected one again.
    Set-DdpermPolicyAcl -Path $DdpermPolicyFile -Folder $false
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
