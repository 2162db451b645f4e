# ddperm policy library: the Registry Access Management policy cache under C:\ProgramData\ddperm.
# The cache is one JSON document {format, sha256, policy} whose "policy" member is the policy
# itself as JSON text, so its SHA-256 covers exact bytes. The folder and the file carry an
# explicit, protected ACL (SYSTEM and Administrators full control, Users read) and an owner of
# SYSTEM or Administrators: the developer can read the policy but not change it. Anything else
# fails closed (CVE-2025-4095 was a silent fail-open). Uses the .NET Framework ACL methods of
# Windows PowerShell 5.1 (the PSRP default endpoint).
# Problem / error ids: DdpermPolicyMissing, DdpermPolicyUntrusted, DdpermPolicyUnreadable,
# DdpermPolicyTampered, DdpermPolicyInvalid, DdpermPolicyAccessDenied, DdpermPolicyLocked.
# Keep the patterns equal to ddperm.components.policy (a test compares them).

$DdpermPolicyFolder = [System.Environment]::GetFolderPath('CommonApplicationData') + '\ddperm'
$DdpermPolicyFile = $DdpermPolicyFolder + '\registry-access-policy.json'
$DdpermPolicyMaxRegistries = 100
$DdpermRegistryPattern = '^(?![0-9.]+(:|\z))(?=[^:]{1,253}(:|\z))[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\z'
$DdpermOrganizationPattern = '^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?\z'
$DdpermFetchedAtPattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z\z'
$DdpermTrustedOwners = @('S-1-5-18', 'S-1-5-32-544')
$DdpermPolicyAces = @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'), @('S-1-5-32-545', 'ReadAndExecute'))
$DdpermWriteRights = [System.Security.AccessControl.FileSystemRights]'Write, Delete, DeleteSubdirectoriesAndFiles, ChangePermissions, TakeOwnership'

function New-DdpermPolicyError {
    # An ErrorRecord whose FullyQualifiedErrorId is exactly $Id.
    param([string]$Id, [string]$Message, [string]$Category)
    $exception = New-Object System.InvalidOperationException $Message
    return New-Object System.Management.Automation.ErrorRecord @(
        $exception, $Id, [System.Management.Automation.ErrorCategory]$Category, $DdpermPolicyFile)
}

function New-DdpermPolicyProblem {
    # The error policy_read.ps1 throws for a problem id of Read-DdpermPolicyCache.
    param([string]$Id)
    switch ($Id) {
        'DdpermPolicyMissing' { return New-DdpermPolicyError $Id "No Registry Access Management policy is cached at '$DdpermPolicyFile'; access is denied until one is cached." 'ObjectNotFound' }
        'DdpermPolicyUntrusted' { return New-DdpermPolicyError $Id "The policy cache '$DdpermPolicyFile' or its folder could be changed by non-administrators (ACL, owner or a link); it is not trusted." 'SecurityError' }
        'DdpermPolicyUnreadable' { return New-DdpermPolicyError $Id "The policy cache '$DdpermPolicyFile' cannot be read or is not a ddperm policy document." 'ReadError' }
        'DdpermPolicyTampered' { return New-DdpermPolicyError $Id "The policy cache '$DdpermPolicyFile' does not match its SHA-256; it was changed outside ddperm." 'SecurityError' }
        default { return New-DdpermPolicyError $Id "The policy cache '$DdpermPolicyFile' holds an invalid policy (organization, registry names or fetch time)." 'InvalidData' }
    }
}

function Test-DdpermPolicyFields {
    # True when organization, registries and fetch time are all well formed.
    param($Organization, $Registries, $FetchedAt)
    if (-not ($Organization -is [string]) -or -not [regex]::IsMatch($Organization, $DdpermOrganizationPattern)) { return $false }
    if (-not ($FetchedAt -is [string]) -or -not [regex]::IsMatch($FetchedAt, $DdpermFetchedAtPattern)) { return $false }
    if (-not ($Registries -is [array])) { return $false }
    $list = @($Registries)
    if ($list.Count -gt $DdpermPolicyMaxRegistries) { return $false }
    $seen = @{}
    foreach ($registry in $list) {
        if (-not ($registry -is [string]) -or -not [regex]::IsMatch($registry, $DdpermRegistryPattern)) { return $false }
        if ($seen.ContainsKey($registry)) { return $false }
        $seen[$registry] = $true
    }
    return $true
}

function Get-DdpermPolicySecurity {
    # The ACL of $Path, or $null when it is a link or not owned by SYSTEM or Administrators
    # (an owner can always rewrite the ACL, e.g. a folder a developer created first).
    param([string]$Path, [bool]$Folder)
    if (([System.IO.File]::GetAttributes($Path) -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) { return $null }
    if ($Folder) { $item = New-Object System.IO.DirectoryInfo $Path } else { $item = New-Object System.IO.FileInfo $Path }
    $security = $item.GetAccessControl('Access, Owner')
    $owner = $security.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($DdpermTrustedOwners -notcontains $owner) { return $null }
    return $security
}

function Test-DdpermPolicyTrusted {
    # True when $Path passes Get-DdpermPolicySecurity and carries exactly the protected ACL:
    # SYSTEM and Administrators full control, Users without any write right.
    param([string]$Path, [bool]$Folder)
    $security = Get-DdpermPolicySecurity -Path $Path -Folder $Folder
    if ($null -eq $security -or -not $security.AreAccessRulesProtected) { return $false }
    $seen = @{}
    foreach ($rule in $security.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = $rule.IdentityReference.Value
        if ($rule.AccessControlType -ne [System.Security.AccessControl.AccessControlType]::Allow) { return $false }
        if ($DdpermTrustedOwners -contains $sid) {
            $full = [System.Security.AccessControl.FileSystemRights]::FullControl
            if (($rule.FileSystemRights -band $full) -ne $full) { return $false }
        } elseif ($sid -eq 'S-1-5-32-545') {
            if (($rule.FileSystemRights -band $DdpermWriteRights) -ne 0) { return $false }
        } else {
            return $false
        }
        $seen[$sid] = $true
    }
    return $seen.Count -eq 3
}

function Set-DdpermPolicyAcl {
    # Owner Administrators; inheritance off; SYSTEM and Administrators full control, Users read.
    param([string]$Path, [bool]$Folder)
    if ($Folder) {
        $security = New-Object System.Security.AccessControl.DirectorySecurity
        $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    } else {
        $security = New-Object System.Security.AccessControl.FileSecurity
        $inherit = [System.Security.AccessControl.InheritanceFlags]::None
    }
    $security.SetAccessRuleProtection($true, $false)
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
    foreach ($ace in $DdpermPolicyAces) {
        $sid = New-Object System.Security.Principal.SecurityIdentifier $ace[0]
        $security.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule @(
            $sid, [System.Security.AccessControl.FileSystemRights]$ace[1], $inherit,
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow)))
    }
    if ($Folder) {
        (New-Object System.IO.DirectoryInfo $Path).SetAccessControl($security)
    } else {
        (New-Object System.IO.FileInfo $Path).SetAccessControl($security)
    }
}

function Get-DdpermTextSha256 {
    param([string]$Text)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $hash = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Text))
    } finally {
        $sha.Dispose()
    }
    return ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
}

function Read-DdpermPolicyCache {
    # The cache's state: problem is $null (and policy is set) only when every check passed.
    $state = [ordered]@{ problem = $null; cached = $false; policy = $null; sha256 = $null }
    if (-not [System.IO.File]::Exists($DdpermPolicyFile)) {
        $state.problem = 'DdpermPolicyMissing'
        return $state
    }
    $state.cached = $true
    try {
        $trusted = (Test-DdpermPolicyTrusted -Path $DdpermPolicyFolder -Folder $true) -and
            (Test-DdpermPolicyTrusted -Path $DdpermPolicyFile -Folder $false)
        if (-not $trusted) {
            $state.problem = 'DdpermPolicyUntrusted'
            return $state
        }
        $text = [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($DdpermPolicyFile))
        $document = Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $text
        $names = @($document.PSObject.Properties | ForEach-Object { $_.Name })
        if (($names -join ',') -ne 'format,sha256,policy' -or $document.format -ne 1 -or -not ($document.policy -is [string])) {
            $state.problem = 'DdpermPolicyUnreadable'
            return $state
        }
        if ((Get-DdpermTextSha256 -Text $document.policy) -cne $document.sha256) {
            $state.problem = 'DdpermPolicyTampered'
            return $state
        }
        $policy = Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $document.policy
        $fields = @($policy.PSObject.Properties | ForEach-Object { $_.Name })
        if (($fields -join ',') -ne 'organization,allowed_registries,fetched_at' -or
            -not (Test-DdpermPolicyFields $policy.organization $policy.allowed_registries $policy.fetched_at)) {
            $state.problem = 'DdpermPolicyInvalid'
            return $state
        }
    } catch {
        $state.problem = 'DdpermPolicyUnreadable'
        return $state
    }
    $state.policy = $policy
    $state.sha256 = $document.sha256
    return $state
}

function Get-DdpermPolicyStatus {
    # What health.ps1 and policy_status.ps1 report; never throws for a bad cache.
    $state = Read-DdpermPolicyCache
    $result = [ordered]@{
        path         = $DdpermPolicyFile
        cached       = $state.cached
        problem      = $state.problem
        organization = $null
        registries   = 0
        fetched_at   = $null
        sha256       = $state.sha256
    }
    if ($null -ne $state.policy) {
        $result.organization = $state.policy.organization
        $result.registries = @($state.policy.allowed_registries).Count
        $result.fetched_at = $state.policy.fetched_at
    }
    return $result
}
