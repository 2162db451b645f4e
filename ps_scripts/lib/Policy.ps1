# ddperm policy library: the Registry Access Management policy cache under C:\ProgramData\ddperm.
# The cache is one JSON document {format, sha256, policy} whose "policy" member is the policy
# itself as JSON text, so its SHA-256 covers exact bytes. The folder and the file carry an
# explicit, protected ACL (SYSTEM and Administrators full control, Users read) and an owner of
# SYSTEM or Administrators: the developer can read the policy but not change it. Anything else
# fails closed (CVE-2025-4095 was a silent fail-open). Runs the same on Windows PowerShell 5.1
# and PowerShell 7: ACLs through Get-Acl/Set-Acl (FileInfo.GetAccessControl is an extension
# method on .NET, which PowerShell does not bind), JSON through ConvertFrom-DdpermJson.
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
# Any write: Write, DeleteSubdirectoriesAndFiles, Delete, WRITE_DAC, WRITE_OWNER, GENERIC_ALL,
# GENERIC_WRITE (an ACE may hold generic rights, which .NET does not name).
$DdpermPolicyWriteRights = [int64]0x500D0156

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

function Test-DdpermPolicyEntry {
    # True when anything is at $Path, a dangling link included (GetAttributes does not follow).
    param([string]$Path)
    try {
        [void][System.IO.File]::GetAttributes($Path)
    } catch [System.IO.FileNotFoundException] {
        return $false
    } catch [System.IO.DirectoryNotFoundException] {
        return $false
    }
    return $true
}

function Get-DdpermPolicySecurity {
    # The ACL of $Path, or $null when it is a link or not owned by SYSTEM or Administrators
    # (an owner can always rewrite the ACL, e.g. a folder a developer created first).
    param([string]$Path)
    if (([System.IO.File]::GetAttributes($Path) -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) { return $null }
    $security = Microsoft.PowerShell.Security\Get-Acl -LiteralPath $Path
    $owner = $security.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($DdpermTrustedOwners -notcontains $owner) { return $null }
    return $security
}

function Test-DdpermPolicyTrusted {
    # True when $Path passes Get-DdpermPolicySecurity and carries exactly the protected ACL:
    # SYSTEM and Administrators full control, Users without any write right.
    param([string]$Path)
    $security = Get-DdpermPolicySecurity -Path $Path
    if ($null -eq $security -or -not $security.AreAccessRulesProtected) { return $false }
    $seen = @{}
    foreach ($rule in $security.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = $rule.IdentityReference.Value
        if ($rule.AccessControlType -ne [System.Security.AccessControl.AccessControlType]::Allow) { return $false }
        if ($DdpermTrustedOwners -contains $sid) {
            $full = [System.Security.AccessControl.FileSystemRights]::FullControl
            if (($rule.FileSystemRights -band $full) -ne $full) { return $false }
        } elseif ($sid -eq 'S-1-5-32-545') {
            if (([int64]$rule.FileSystemRights -band $DdpermPolicyWriteRights) -ne 0) { return $false }
        } else {
            return $false
        }
        $seen[$sid] = $true
    }
    return $seen.Count -eq 3
}

function Set-DdpermPolicyFileAcl {
    # Gives the file $Path its own protected ACL: owner Administrators; SYSTEM and
    # Administrators full control, Users read (Set-Acl works on both editions).
    param([string]$Path)
    $security = New-Object System.Security.AccessControl.FileSecurity
    $security.SetAccessRuleProtection($true, $false)
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
    foreach ($ace in $DdpermPolicyAces) {
        $security.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule @(
            (New-Object System.Security.Principal.SecurityIdentifier $ace[0]),
            [System.Security.AccessControl.FileSystemRights]$ace[1],
            [System.Security.AccessControl.AccessControlType]::Allow)))
    }
    $null = Microsoft.PowerShell.Security\Set-Acl -LiteralPath $Path -AclObject $security
}

function ConvertFrom-DdpermJson {
    # JSON text as PowerShell data with every string kept a string. PowerShell 7's
    # ConvertFrom-Json (Json.NET) turns ISO-8601 strings into [datetime] (-DateKind String
    # exists only from 7.5), so on Core System.Text.Json reads the text; 5.1's ConvertFrom-Json
    # (JavaScriptSerializer) keeps them. Objects keep their member order.
    param([Parameter(Mandatory = $true)] [AllowEmptyString()] [string]$Text)
    if ($PSVersionTable.PSEdition -eq 'Core') {
        $document = [System.Text.Json.JsonDocument]::Parse($Text)
        try {
            $value = ConvertFrom-DdpermJsonElement -Element $document.RootElement
        } finally {
            $document.Dispose()
        }
        return , $value  # an array stays one array, as 5.1's ConvertFrom-Json gives it
    } else {
        return Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $Text
    }
}

function ConvertFrom-DdpermJsonElement {
    # One System.Text.Json value the way ConvertFrom-Json gives it: [pscustomobject],
    # object[], string, [int64] or [double], [bool], $null.
    param([Parameter(Mandatory = $true)] $Element)
    switch ([string]$Element.ValueKind) {
        'Object' {
            $members = [ordered]@{}
            foreach ($member in $Element.EnumerateObject()) {
                $members[$member.Name] = ConvertFrom-DdpermJsonElement -Element $member.Value
            }
            return [pscustomobject]$members
        }
        'Array' {
            $items = New-Object System.Collections.Generic.List[object]
            foreach ($item in $Element.EnumerateArray()) {
                $items.Add((ConvertFrom-DdpermJsonElement -Element $item))
            }
            return , $items.ToArray()
        }
        'String' { return $Element.GetString() }
        'Number' {
            $integer = [int64]0
            if ($Element.TryGetInt64([ref]$integer)) { return $integer }
            return $Element.GetDouble()
        }
        'True' { return $true }
        'False' { return $false }
    }
    return $null
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
        $trusted = (Test-DdpermPolicyTrusted -Path $DdpermPolicyFolder) -and
            (Test-DdpermPolicyTrusted -Path $DdpermPolicyFile)
        if (-not $trusted) {
            $state.problem = 'DdpermPolicyUntrusted'
            return $state
        }
        $text = [System.Text.Encoding]::UTF8.GetString([System.IO.File]::ReadAllBytes($DdpermPolicyFile))
        $document = ConvertFrom-DdpermJson -Text $text
        $names = @($document.PSObject.Properties | ForEach-Object { $_.Name })
        if (($names -join ',') -ne 'format,sha256,policy' -or $document.format -ne 1 -or -not ($document.policy -is [string])) {
            $state.problem = 'DdpermPolicyUnreadable'
            return $state
        }
        if ((Get-DdpermTextSha256 -Text $document.policy) -cne $document.sha256) {
            $state.problem = 'DdpermPolicyTampered'
            return $state
        }
        $policy = ConvertFrom-DdpermJson -Text $document.policy
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
