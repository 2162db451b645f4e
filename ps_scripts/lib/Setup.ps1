# ddperm setup library: the docker-users group, shared by its status and add scripts.
# Accounts are compared by SID, never by a display name that Windows may translate.
# Membership is read as raw SIDs through the WinNT provider (System.DirectoryServices, in
# both Windows PowerShell 5.1 and PowerShell 7): Get-LocalGroupMember, even with -Member,
# resolves every member of the group to a name and fails on one Windows cannot name (a
# deleted or Azure AD account, PowerShell #2996), which -ErrorAction SilentlyContinue
# would turn into "not a member".

$DdpermDockerUsersPath = 'WinNT://./docker-users,group'

function Get-DdpermDockerUsersGroup {
    # The docker-users local group as a directory entry, or $null when there is none.
    if (-not [System.DirectoryServices.DirectoryEntry]::Exists($DdpermDockerUsersPath)) { return $null }
    return (Microsoft.PowerShell.Utility\New-Object -TypeName System.DirectoryServices.DirectoryEntry -ArgumentList $DdpermDockerUsersPath)
}

function ConvertTo-DdpermSid {
    # The SID string of a WinNT directory entry (its objectSid bytes), never its name.
    param([Parameter(Mandatory = $true)] [System.DirectoryServices.DirectoryEntry]$Entry)
    $bytes = [byte[]]$Entry.psbase.Properties['objectSid'].Value
    return (Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList @($bytes, 0)).Value
}

function Get-DdpermGroupMemberSids {
    # The SID of every direct member of the group, none of them looked up by name.
    param([Parameter(Mandatory = $true)] [System.DirectoryServices.DirectoryEntry]$Group)
    $sids = Microsoft.PowerShell.Utility\New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($member in @($Group.psbase.Invoke('Members'))) {
        $sids.Add((ConvertTo-DdpermSid -Entry ([System.DirectoryServices.DirectoryEntry]$member)))
    }
    return , $sids.ToArray()
}

function Get-DdpermAccountSid {
    # The SID Windows resolves an account name to, or $null when it cannot resolve it.
    param([Parameter(Mandatory = $true)] [string]$Name)
    $account = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $Name
    try {
        return [string]$account.Translate([System.Security.Principal.SecurityIdentifier]).Value
    } catch {
        if ($_.Exception.GetBaseException() -is [System.Security.Principal.IdentityNotMappedException]) { return $null }
        throw
    }
}

function Get-DdpermDockerUsers {
    # The group (whether it exists, its SID) and, for each named account, its SID ($null when
    # Windows cannot resolve the name) and whether it is a member.
    param([Parameter(Mandatory = $true)] [string[]]$Member)
    $group = Get-DdpermDockerUsersGroup
    $groupSid = $null
    $memberSids = @()
    if ($null -ne $group) {
        $groupSid = ConvertTo-DdpermSid -Entry $group
        $memberSids = Get-DdpermGroupMemberSids -Group $group
    }
    $accounts = @()
    foreach ($name in $Member) {
        $sid = Get-DdpermAccountSid -Name $name
        $accounts += [ordered]@{ name = $name; sid = $sid; member = ($null -ne $sid -and $memberSids -contains $sid) }
    }
    [ordered]@{ exists = ($null -ne $group); sid = $groupSid; members = (ConvertTo-DdpermList $accounts) }
}
