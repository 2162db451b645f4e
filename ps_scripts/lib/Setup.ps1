# ddperm setup library: the docker-users group, shared by its status and add scripts.
# Groups are found by name but reported with SIDs; members are compared by SID, never by a
# display name that Windows may translate.

function Get-DdpermDockerUsers {
    # The docker-users local group: whether it exists, its SID and its members.
    $group = Microsoft.PowerShell.LocalAccounts\Get-LocalGroup -ErrorAction SilentlyContinue | Microsoft.PowerShell.Core\Where-Object { $_.Name -eq 'docker-users' }
    if ($null -eq $group) {
        return [ordered]@{ exists = $false; sid = $null; members = (ConvertTo-DdpermList $null) }
    }
    $members = @()
    foreach ($member in @(Microsoft.PowerShell.LocalAccounts\Get-LocalGroupMember -SID $group.SID)) {
        $members += [ordered]@{ name = [string]$member.Name; sid = [string]$member.SID }
    }
    [ordered]@{ exists = $true; sid = [string]$group.SID; members = (ConvertTo-DdpermList $members) }
}
