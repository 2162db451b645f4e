# ddperm-kind: read
# Reports the state of the cached Registry Access Management policy (never throws for a bad cache).
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Policy

Write-DdpermResult (Get-DdpermPolicyStatus)
