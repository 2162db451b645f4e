# ddperm-kind: ensure
# Makes one account a member of docker-users, creating the group first if it is missing.
# The account is a local or domain user name (COMPUTER\user, DOMAIN\user or user), never a
# wildcard; membership is compared by SID.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^([A-Za-z0-9][A-Za-z0-9.-]{0,62}\\)?[A-Za-z0-9][A-Za-z0-9._ -]{0,63}\z')]
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
if (-not (Test-DdpermGroupMember -Group $group -Sid $sid)) {
    Microsoft.PowerShell.LocalAccounts\Add-LocalGroupMember -SID $group.SID -Member $sid
    $added = $true
}
Write-DdpermResult ([ordered]@{
    group_created = $created
    member_added  = $added
    member_sid    = $sid
    group         = (Get-DdpermDockerUsers -Member @($Member))
})
