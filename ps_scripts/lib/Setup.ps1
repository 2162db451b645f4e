# ddperm setup library: the docker-users group, shared by its status and add scripts.
# Accounts are compared by SID, never by a display name that Windows may translate. The
# group's members are never listed whole: Windows PowerShell 5.1's Get-LocalGroupMember
# sorts them by name and fails on a member whose SID has no name (a deleted or Azure AD
# account, PowerShell #2996), so each account is looked up on its own (-Member <SID> returns
# at most one object, which is never sorted).

function Get-DdpermDockerUsersGroup {
    # The docker-users local group, or $null when there is none.
    Microsoft.PowerShell.LocalAccounts\Get-LocalGroup -ErrorAction SilentlyContinue | Microsoft.PowerShell.Core\Where-Object { $_.Name -eq 'docker-users' }
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

function Test-DdpermGroupMember {
    # Whether the account with this SID is a member of the group (asked for it alone).
    param([Parameter(Mandatory = $true)] $Group, [Parameter(Mandatory = $true)] [string]$Sid)
    $found = Microsoft.PowerShell.LocalAccounts\Get-LocalGroupMember -SID $Group.SID -Member $Sid -ErrorAction SilentlyContinue
    return ($null -ne $found)
}

function Get-DdpermDockerUsers {
    # The group (whether it exists, its SID) and, for each named account, its SID ($null when
    # Windows cannot resolve the name) and whether it is a member.
    param([Parameter(Mandatory = $true)] [string[]]$Member)
    $group = Get-DdpermDockerUsersGroup
    $accounts = @()
    foreach ($name in $Member) {
        $sid = Get-DdpermAccountSid -Name $name
        $isMember = $false
        if ($null -ne $group -and $null -ne $sid) { $isMember = Test-DdpermGroupMember -Group $group -Sid $sid }
        $accounts += [ordered]@{ name = $name; sid = $sid; member = $isMember }
    }
    $groupSid = $null
    if ($null -ne $group) { $groupSid = [string]$group.SID }
    [ordered]@{ exists = ($null -ne $group); sid = $groupSid; members = (ConvertTo-DdpermList $accounts) }
}
