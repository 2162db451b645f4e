# ddperm-kind: read
# Reports whether the docker-users local group exists, its SID, and for each named account
# whether it is a member.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^([A-Za-z0-9][A-Za-z0-9.-]{0,62}\\)?[A-Za-z0-9][A-Za-z0-9._ -]{0,63}\z')]
    [string[]]$Member
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Setup

Write-DdpermResult (Get-DdpermDockerUsers -Member $Member)
