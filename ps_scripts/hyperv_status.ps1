# ddperm-kind: read
# Reports the Hyper-V feature state, whether the hypervisor is running, and the VMMS service status.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

Write-DdpermResult (Get-DdpermHyperVStatus)
