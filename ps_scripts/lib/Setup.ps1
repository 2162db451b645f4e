# ddperm setup library: the provisioning steps' shared pieces (docker-users group, boot state).
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

function Get-DdpermBootState {
    # When Windows last started, whether a feature change waits for a restart, and whether
    # this session is elevated (its token holds the Administrators SID, S-1-5-32-544).
    $os = CimCmdlets\Get-CimInstance -ClassName Win32_OperatingSystem
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList $identity
    $admins = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'
    [ordered]@{
        last_boot       = ([datetime]$os.LastBootUpTime).ToUniversalTime().ToString('o')
        restart_pending = [bool](Test-DdpermRestartPending)
        elevated        = [bool]$principal.IsInRole($admins)
    }
}
