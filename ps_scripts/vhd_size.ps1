# ddperm-kind: read
# Reports the size of DockerDesktopVM's disk: virtual size, bytes on disk, minimum size.
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
$drive = Get-DdpermVMDisk -VM $vm
$vhd = Hyper-V\Get-VHD -Path ([string]$drive.Path)
$minimum = $null
if ($null -ne $vhd.MinimumSize) { $minimum = [int64]$vhd.MinimumSize }
Write-DdpermResult ([ordered]@{
    path                 = [string]$vhd.Path
    format               = [string]$vhd.VhdFormat
    type                 = [string]$vhd.VhdType
    virtual_size         = [int64]$vhd.Size
    file_size            = [int64]$vhd.FileSize
    minimum_size         = $minimum
    block_size           = [int64]$vhd.BlockSize
    logical_sector_size  = [int]$vhd.LogicalSectorSize
    physical_sector_size = [int]$vhd.PhysicalSectorSize
    attached             = [bool]$vhd.Attached
})
