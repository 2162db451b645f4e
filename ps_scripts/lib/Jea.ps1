# ddperm JEA library: where the endpoint lives, the checks the generated Ddperm module runs
# before every job, and what jea_status reports. Needs lib/Paths.ps1 (New-DdpermErrorRecord,
# Assert-DdpermAdminFolder, Get-DdpermFolderAclProblem and the rights masks) and lib/Setup.ps1.
# A role capability file a non-administrator can edit lets that user make any command visible
# (JEA "Updating role capabilities"), so the ACL is checked as well as the catalog.

$DdpermJeaConfigurationName = 'ddperm'
$DdpermJeaCatalogName = 'Ddperm.cat'
# Any right at all (read included): transcripts are for administrators only.
$DdpermAnyRights = [int64]0xF01F01FF

function Get-DdpermJeaModuleRoot {
    # $env:ProgramFiles\WindowsPowerShell\Modules\Ddperm: in every session's PSModulePath,
    # writable by administrators only.
    return [System.IO.Path]::Combine($env:ProgramFiles, 'WindowsPowerShell\Modules\Ddperm')
}

function Get-DdpermJeaDataFolder {
    # Where the session configuration file and the transcripts are kept (admin-only ACL).
    return [System.IO.Path]::Combine($env:ProgramData, 'ddperm-jea')
}

function Get-DdpermJeaCatalogStatus {
    # Test-FileCatalog's verdict on the module folder ('Valid', 'ValidationFailed'), or
    # 'Missing' when there is no catalog. The catalog itself lives in the folder, so it is skipped.
    param([Parameter(Mandatory = $true)] [string]$Root)
    $catalog = [System.IO.Path]::Combine($Root, $DdpermJeaCatalogName)
    if (-not [System.IO.File]::Exists($catalog)) { return 'Missing' }
    return [string](Microsoft.PowerShell.Security\Test-FileCatalog -CatalogFilePath $catalog -Path $Root -FilesToSkip $DdpermJeaCatalogName)
}

function Get-DdpermJeaAclProblems {
    # Every way a non-administrator could change the module: its folder (and the folders
    # above it) as Assert-DdpermAdminFolder judges them, then each file and folder inside.
    param([Parameter(Mandatory = $true)] [string]$Root)
    $problems = @()
    try {
        Assert-DdpermAdminFolder -Folder $Root -What 'JEA module folder'
    } catch {
        $problems += [ordered]@{ path = $Root; problem = $_.Exception.Message }
    }
    foreach ($item in @(Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $Root -Recurse -Force)) {
        $problem = Get-DdpermFolderAclProblem -Folder $item.FullName -Rights $DdpermAnyWriteRights
        if ($null -ne $problem) { $problems += [ordered]@{ path = $item.FullName; problem = $problem } }
    }
    return , $problems
}

function Assert-DdpermEndpoint {
    # Run by every function of the generated module before its job (module code runs in
    # FullLanguage inside the NoLanguage session): the files must match the catalog made at
    # install, and no non-administrator may be able to change them.
    param([Parameter(Mandatory = $true)] [string]$Root)
    $status = Get-DdpermJeaCatalogStatus -Root $Root
    if ($status -ne 'Valid') {
        throw (New-DdpermErrorRecord 'DdpermCatalogMismatch' "Refusing to run: the ddperm JEA module at '$Root' does not match its file catalog ($status). Reinstall it with 'ddperm jea install'." $Root)
    }
    $problems = @(Get-DdpermJeaAclProblems -Root $Root)
    if ($problems.Count -gt 0) {
        throw (New-DdpermErrorRecord 'DdpermUnsafeAcl' "Refusing to run: a non-administrator could change the ddperm JEA module ($($problems[0].problem))." $problems[0].path)
    }
}

function Get-DdpermJeaFiles {
    # Each file of the module (catalog included) with its SHA-256, by path relative to $Root.
    param([Parameter(Mandatory = $true)] [string]$Root)
    $files = @()
    foreach ($item in @(Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $Root -Recurse -File -Force)) {
        $hash = Microsoft.PowerShell.Utility\Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256
        $files += [ordered]@{ path = $item.FullName.Substring($Root.Length + 1); sha256 = $hash.Hash.ToLowerInvariant() }
    }
    return , $files
}

function Install-DdpermJeaGroup {
    # The principal a role definition names for $Group: a local group (created if missing,
    # each of $Member added, compared by SID) as COMPUTER\group, or a domain group as given
    # (it must exist; members of a domain group are not ddperm's to change).
    param([Parameter(Mandatory = $true)] [string]$Group, [AllowEmptyCollection()] [string[]]$Member)
    if ($Group.Contains('\')) {
        if ($Member.Count -gt 0) {
            throw (New-DdpermErrorRecord 'DdpermNotLocalGroup' "Refusing to add members to '$Group': only local groups are changed." $Group 'InvalidArgument')
        }
        if ($null -eq (Get-DdpermAccountSid -Name $Group)) {
            throw (New-DdpermErrorRecord 'DdpermGroupNotFound' "The group '$Group' does not exist." $Group 'ObjectNotFound')
        }
        return $Group
    }
    # As lib/Setup.ps1 does for docker-users: the group as a WinNT entry, members as SIDs.
    $path = "WinNT://./$Group,group"
    if (-not [System.DirectoryServices.DirectoryEntry]::Exists($path)) {
        $null = Microsoft.PowerShell.LocalAccounts\New-LocalGroup -Name $Group -Description 'ddperm JEA role (ddperm jea install)'
    }
    $local = Microsoft.PowerShell.Utility\New-Object -TypeName System.DirectoryServices.DirectoryEntry -ArgumentList $path
    $groupSid = ConvertTo-DdpermSid -Entry $local
    foreach ($name in $Member) {
        $sid = Get-DdpermAccountSid -Name $name
        if ($null -eq $sid) {
            throw (New-DdpermErrorRecord 'DdpermAccountNotFound' "The account '$name' does not exist." $name 'ObjectNotFound')
        }
        if ((Get-DdpermGroupMemberSids -Group $local) -notcontains $sid) {
            Microsoft.PowerShell.LocalAccounts\Add-LocalGroupMember -SID $groupSid -Member $sid
        }
    }
    return "$env:COMPUTERNAME\$Group"
}

function Get-DdpermProperty {
    # $Object.$Name, or $null when it has no such property (StrictMode 3 throws on a missing one).
    param($Object, [string]$Name)
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function Get-DdpermJeaConfiguration {
    # What Get-PSSessionConfiguration knows of the 'ddperm' configuration, or $null.
    $found = Microsoft.PowerShell.Core\Get-PSSessionConfiguration -Name $DdpermJeaConfigurationName -ErrorAction SilentlyContinue
    if ($null -eq $found) { return $null }
    $roles = @()
    $definitions = Get-DdpermProperty $found 'RoleDefinitions'
    if ($null -ne $definitions) {
        foreach ($entry in $definitions.GetEnumerator()) {
            $roles += [ordered]@{ principal = [string]$entry.Key; role_capabilities = (ConvertTo-DdpermList @($entry.Value['RoleCapabilities'])) }
        }
    }
    $virtual = Get-DdpermProperty $found 'RunAsVirtualAccount'
    [ordered]@{
        name                    = [string]$found.Name
        session_type            = [string](Get-DdpermProperty $found 'SessionType')
        language_mode           = [string](Get-DdpermProperty $found 'LanguageMode')
        run_as_virtual_account  = ([string]$virtual -eq 'True')
        transcript_directory    = [string](Get-DdpermProperty $found 'TranscriptDirectory')
        role_definitions        = (ConvertTo-DdpermList $roles)
        permission              = [string](Get-DdpermProperty $found 'Permission')
    }
}
