# ddperm-kind: ensure
# Ensures DockerDesktopVM is Running: starts it from Off or Saved, resumes it from Paused.
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

$vm = Get-DdpermVM -Name $VMName
$state = [string]$vm.State
$changed = $true
if ($state -eq 'Running') {
    $changed = $false
} elseif ($state -eq 'Paused') {
    Hyper-V\Resume-VM -VM $vm
} else {
    # Off, Saved, FastSaved start; Hyper-V refuses transitional states with InvalidState.
    Hyper-V\Start-VM -VM $vm
}
Write-DdpermResult ([ordered]@{
    changed = $changed
    forced  = $false
    vm      = ConvertTo-DdpermVMInfo -VM (Get-DdpermVM -Name $VMName)
})
