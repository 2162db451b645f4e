# ddperm-kind: destructive
# Moves DockerDesktopVM's disk (the VM must be Off) to a folder (keeping the file name
# DockerDesktop.vhdx) or to a full .vhdx path, and points the VM at it. Same volume: a
# rename, then the destination's inherited ACL replaces the source's. Another volume: copy,
# verify (length and SHA-256), repoint, then delete the original. Any failure undoes every
# step; the original is removed only after the copy is complete and verified. A VM with
# checkpoints is refused: its disk is then a differencing .avhdx over the real data.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName,
    [Parameter(Mandatory = $true)]
    [string]$Destination
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include HyperV

$vm = Get-DdpermVM -Name $VMName
Assert-DdpermVMOff -VM $vm -Action 'move the disk'
$drive = Get-DdpermVMDisk -VM $vm
$source = Assert-DdpermSafePath -Path ([string]$drive.Path) -What 'VM disk'
Assert-DdpermNoCheckpoints -VM $vm -Action 'move the disk'
$target = $Destination.TrimEnd('\')
if ($target -notmatch '\.vhdx$') { $target = $target + '\DockerDesktop.vhdx' }
$target = Assert-DdpermSafePath -Path $target -What 'destination'
$folder = Assert-DdpermSafePath -Path ([System.IO.Path]::GetDirectoryName($target)) -What 'destination folder'

$method = 'none'
if ($target -ne $source) {
    if (Microsoft.PowerShell.Management\Test-Path -LiteralPath $target) {
        throw (New-DdpermErrorRecord 'DdpermDestinationExists' "'$target' already exists; refusing to overwrite it." $target 'ResourceExists')
    }
    $method = 'copy'
    if ($source.Substring(0, 2) -eq $target.Substring(0, 2)) { $method = 'rename' }
    Assert-DdpermSingleLink -Path $source -What 'VM disk'  # its ACL is about to change
    $createdFolders = @()
    $placed = $false
    $repointed = $false
    try {
        $createdFolders = New-DdpermFolder -Path $folder -Private
        # Again, right before writing: nothing may have appeared at the destination meanwhile.
        [void](Assert-DdpermSafePath -Path $target -What 'destination')
        if (Microsoft.PowerShell.Management\Test-Path -LiteralPath $target) {
            throw (New-DdpermErrorRecord 'DdpermDestinationExists' "'$target' already exists; refusing to overwrite it." $target 'ResourceExists')
        }
        $placed = $true  # from here on a (possibly partial) file at $target is ours
        if ($method -eq 'rename') {
            Microsoft.PowerShell.Management\Move-Item -LiteralPath $source -Destination $target
            # A rename keeps the source's ACL; take the destination folder's inherited one.
            $acl = Microsoft.PowerShell.Security\Get-Acl -LiteralPath $target
            foreach ($rule in @($acl.Access | Where-Object { -not $_.IsInherited })) {
                [void]$acl.RemoveAccessRuleSpecific($rule)
            }
            $acl.SetAccessRuleProtection($false, $false)
            Microsoft.PowerShell.Security\Set-Acl -LiteralPath $target -AclObject $acl
        } else {
            Microsoft.PowerShell.Management\Copy-Item -LiteralPath $source -Destination $target
            $same = ([System.IO.FileInfo]$source).Length -eq ([System.IO.FileInfo]$target).Length
            if ($same) {
                $a = Microsoft.PowerShell.Utility\Get-FileHash -LiteralPath $source -Algorithm SHA256
                $b = Microsoft.PowerShell.Utility\Get-FileHash -LiteralPath $target -Algorithm SHA256
                $same = $a.Hash -eq $b.Hash
            }
            if (-not $same) {
                throw (New-DdpermErrorRecord 'DdpermCopyMismatch' "The copy '$target' differs from '$source'." $target 'WriteError')
            }
        }
        Hyper-V\Set-VMHardDiskDrive -VMHardDiskDrive $drive -Path $target
        $repointed = $true
        if ($method -eq 'copy') { Microsoft.PowerShell.Management\Remove-Item -LiteralPath $source }
    } catch {
        $failure = $_
        if ($repointed) {
            try { Hyper-V\Set-VMHardDiskDrive -VMHardDiskDrive (Get-DdpermVMDisk -VM $vm) -Path $source } catch { }
        }
        if ($placed -and (Microsoft.PowerShell.Management\Test-Path -LiteralPath $target)) {
            if ($method -eq 'rename') {
                try { Microsoft.PowerShell.Management\Move-Item -LiteralPath $target -Destination $source } catch { }
            } else {
                try { Microsoft.PowerShell.Management\Remove-Item -LiteralPath $target -Force } catch { }
            }
        }
        Remove-DdpermCreatedFolders -Folders $createdFolders
        throw $failure
    }
}
Write-DdpermResult ([ordered]@{
    source      = $source
    destination = $target
    method      = $method
    vm          = ConvertTo-DdpermVMInfo -VM (Get-DdpermVM -Name $VMName)
})
