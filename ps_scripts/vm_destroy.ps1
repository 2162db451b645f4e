# ddperm-kind: destructive
# Removes DockerDesktopVM (it must be Off) and deletes its DockerDesktop.vhdx. Every disk
# path is re-checked first: a junction or symbolic link anywhere on it refuses the whole
# job before anything is removed (CVE-2022-31647). Disks with another name are only detached.
# A VM with checkpoints (its disk a differencing .avhdx) is refused: the chain would be orphaned.
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
$deleted = @()
$kept = @()
if ($null -ne $vm) {
    Assert-DdpermVMOff -VM $vm -Action 'destroy the virtual machine'
    $disks = @()
    foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VM $vm)) {
        $disks += Assert-DdpermSafePath -Path ([string]$drive.Path) -What 'VM disk'
    }
    Assert-DdpermNoCheckpoints -VM $vm -Action 'destroy the virtual machine'
    Hyper-V\Remove-VM -VM $vm -Force
    foreach ($disk in $disks) {
        $ours = [System.IO.Path]::GetFileName($disk) -eq 'DockerDesktop.vhdx'
        if ($ours -and (Microsoft.PowerShell.Management\Test-Path -LiteralPath $disk)) {
            # Again right before the delete: Remove-VM took time a link could be planted in.
            [void](Assert-DdpermSafePath -Path $disk -What 'VM disk')
            Microsoft.PowerShell.Management\Remove-Item -LiteralPath $disk
            $deleted += $disk
        } else {
            $kept += $disk
        }
    }
}
Write-DdpermResult ([ordered]@{
    existed       = ($null -ne $vm)
    deleted_files = ConvertTo-DdpermList $deleted
    kept_files    = ConvertTo-DdpermList $kept
})
