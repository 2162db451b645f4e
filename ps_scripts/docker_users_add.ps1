# ddperm-kind: ensure
# Makes one account a member of docker-users, creating the group first if it is missing.
# The account is a local or domain user name (COMPUTER\user, DOMAIN\user or user), never a
# wildcard; membership is compared by SID.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string]$Member
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Setup

$created = $false
$group = Get-DdpermDockerUsersGroup
if ($null -eq $group) {
    $null = Microsoft.PowerShell.LocalAccounts\New-LocalGroup -Name 'docker-users' -Description 'Users allowed to use Docker Desktop'
    $created = $true
    $group = Get-DdpermDockerUsersGroup
}
$account = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $Member
$sid = [string]$account.Translate([System.Security.Principal.SecurityIdentifier]).Value
$added = $false
if ((Get-DdpermGroupMemberSids -Group $group) -notcontains $sid) {
    # Strings only: under PowerShell 7 this module may run in a Windows PowerShell
    # compatibility session, whose deserialized objects do not bind back to -SID.
    try {
        Microsoft.PowerShell.LocalAccounts\Add-LocalGroupMember -SID (ConvertTo-DdpermSid -Entry $group) -Member $sid
        $added = $true
    } catch {
        # Added by someone else since the read: it is a member, which is what was asked.
        if (-not ([string]$_.FullyQualifiedErrorId).StartsWith('MemberExists,')) { throw }
    }
}
Write-DdpermResult ([ordered]@{
    group_created = $created
    member_added  = $added
    member_sid    = $sid
    group         = (Get-DdpermDockerUsers -Member @($Member))
})
