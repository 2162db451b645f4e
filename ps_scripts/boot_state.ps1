# ddperm-kind: read
# Reports when Windows last started and whether a restart is pending.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

Write-DdpermResult (Get-DdpermBootState)
