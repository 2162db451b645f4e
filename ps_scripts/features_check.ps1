# ddperm-kind: read
# Reports the state of each named Windows optional feature and whether a restart is pending.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^[A-Za-z][A-Za-z0-9._-]{0,99}\z')]
    [string[]]$FeatureName
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

Write-DdpermResult (Get-DdpermFeaturesReport -Name $FeatureName)
