# ddperm-kind: read
# Reports whether the docker-users local group exists, its SID and its members.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Setup

Write-DdpermResult (Get-DdpermDockerUsers)
