# ddperm-kind: destructive
# Creates DockerDesktopVM with a new dynamic DockerDesktop.vhdx in the data folder and, with
# -BootIso, a DVD drive holding that ISO as its first boot device; on any failure everything
# this script made is removed again (no half-made VM, no orphan disk).
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName,
    [Parameter(Mandatory = $true)]
    [ValidateRange(1, 64)]
    [int]$ProcessorCount,
    [Parameter(Mandatory = $true)]
    [ValidateRange(1073741824, 274877906944)]
    [int64]$MemoryStartupBytes,
    [Parameter(Mandatory = $true)]
    [ValidateRange(1073741824, 70368744177664)]
    [int64]$DiskSizeBytes,
    [Parameter(Mandatory = $true)]
    [string]$DataFolder,
    [string]$BootIso = ''
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include HyperV

if ($null -ne (Get-DdpermVM -Name $VMName -AllowMissing)) {
    throw (New-DdpermErrorRecord 'DdpermVMExists' "The virtual machine '$VMName' already exists." $VMName 'ResourceExists')
}
$folder = Assert-DdpermSafePath -Path $DataFolder -What 'data folder'
$vhdx = Assert-DdpermSafePath -Path ($folder.TrimEnd('\') + '\DockerDesktop.vhdx') -What 'VM disk'
if (Microsoft.PowerShell.Management\Test-Path -LiteralPath $vhdx) {
    throw (New-DdpermErrorRecord 'DdpermDiskExists' "'$vhdx' already exists; move or delete it before creating the VM." $vhdx 'ResourceExists')
}
$iso = $null
if ($BootIso -ne '') { $iso = Assert-DdpermBootIso -Path $BootIso }

$createdFolders = @()
$diskCreated = $false
$vm = $null
try {
    $createdFolders = New-DdpermFolder -Path $folder -Private
    [void](Assert-DdpermSafePath -Path $vhdx -What 'VM disk')  # again, right before vmms writes
    $diskCreated = $true  # from here on a (possibly partial) disk file is ours to remove
    [void](Hyper-V\New-VHD -Path $vhdx -SizeBytes $DiskSizeBytes -Dynamic)
    $vm = Hyper-V\New-VM -Name $VMName -Generation 2 -MemoryStartupBytes $MemoryStartupBytes -NoVHD
    Hyper-V\Set-VM -VM $vm -ProcessorCount $ProcessorCount -StaticMemory -AutomaticCheckpointsEnabled $false
    # Generation 2 VMs start with Secure Boot on the Microsoft Windows template, which does
    # not boot Docker Desktop's Linux kernel (Docker's own MobyLinux.ps1 turned it off too).
    Hyper-V\Set-VMFirmware -VM $vm -EnableSecureBoot Off
    Hyper-V\Add-VMHardDiskDrive -VM $vm -Path $vhdx
    if ($null -ne $iso) {
        # Generation 2: the drive goes on the SCSI controller, after the disk.
        $dvd = Hyper-V\Add-VMDvdDrive -VM $vm -Path $iso -Passthru
        Hyper-V\Set-VMFirmware -VM $vm -FirstBootDevice $dvd
    }
} catch {
    $failure = $_
    if ($null -ne $vm) { try { Hyper-V\Remove-VM -VM $vm -Force } catch { } }
    if ($diskCreated -and (Microsoft.PowerShell.Management\Test-Path -LiteralPath $vhdx)) {
        try { Microsoft.PowerShell.Management\Remove-Item -LiteralPath $vhdx -Force } catch { }
    }
    Remove-DdpermCreatedFolders -Folders $createdFolders
    throw $failure
}
Write-DdpermResult (ConvertTo-DdpermVMInfo -VM (Get-DdpermVM -Name $VMName))
