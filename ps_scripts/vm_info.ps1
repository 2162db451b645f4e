# ddperm-kind: read
# Describes DockerDesktopVM, or reports that it does not exist (vm = null).
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include HyperV

$vm = Get-DdpermVM -Name $VMName -AllowMissing
$info = $null
if ($null -ne $vm) { $info = ConvertTo-DdpermVMInfo -VM $vm }
Write-DdpermResult ([ordered]@{ vm = $info })
