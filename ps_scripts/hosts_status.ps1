# ddperm-kind: read
# Reports whether the hosts file holds ddperm's kubernetes.docker.internal section as ensure leaves it.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include HostsFile

Write-DdpermResult (Get-DdpermHostsStatus)
