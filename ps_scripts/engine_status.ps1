# ddperm-kind: read
# Reports the Windows Docker engine service ('docker'): installed, status, start type.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Engine

Write-DdpermResult (Get-DdpermEngineStatus)
