# ddperm-kind: read
# Reports hypervisorlaunchtype of the running OS's boot entry, read through the BCD WMI provider.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

Write-DdpermResult (Get-DdpermBootloaderStatus)
