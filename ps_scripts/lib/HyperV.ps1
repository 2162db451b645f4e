# ddperm Hyper-V library: finding the one DockerDesktopVM and describing it.
# Include after Common and Paths (New-DdpermErrorRecord lives in Paths).
# Hyper-V allows several VMs with one name, and Get-VM -Name matches case-insensitively,
# so every script goes through Get-DdpermVM: exactly one VM, with exactly the pinned name.

function Get-DdpermVM {
    # The VM called $Name, or $null when there is none and -AllowMissing is set. Any other
    # Get-VM failure (no permission, VMMS stopped, module missing) is thrown unchanged.
    param([Parameter(Mandatory = $true)] [string]$Name, [switch]$AllowMissing)
    # ValidateSet compares case-insensitively; the pin is exact.
    if ($Name -cne 'DockerDesktopVM') {
        throw (New-DdpermErrorRecord 'DdpermVMNameMismatch' "ddperm manages only 'DockerDesktopVM', not '$Name'." $Name 'InvalidArgument')
    }
    try {
        $found = @(Hyper-V\Get-VM -Name $Name)
    } catch {
        if ($AllowMissing -and $_.FullyQualifiedErrorId -eq 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM') {
            return $null
        }
        throw
    }
    if ($found.Count -eq 0) {
        if ($AllowMissing) { return $null }
        throw (New-DdpermErrorRecord 'DdpermVMNotFound' "Hyper-V has no virtual machine named '$Name'." $Name 'ObjectNotFound')
    }
    if ($found.Count -gt 1) {
        throw (New-DdpermErrorRecord 'DdpermDuplicateVM' "Hyper-V has $($found.Count) virtual machines named '$Name'; refusing to guess which one is Docker's." $Name 'InvalidResult')
    }
    if ($found[0].Name -cne $Name) {
        throw (New-DdpermErrorRecord 'DdpermVMNameMismatch' "The virtual machine '$($found[0].Name)' is not named exactly '$Name'." $Name 'InvalidResult')
    }
    return $found[0]
}

function Get-DdpermVMDisk {
    # The VM's one hard disk drive (DockerDesktopVM has exactly one).
    param([Parameter(Mandatory = $true)] $VM)
    $drives = @(Hyper-V\Get-VMHardDiskDrive -VM $VM)
    if ($drives.Count -ne 1) {
        throw (New-DdpermErrorRecord 'DdpermVMDiskCount' "The virtual machine '$($VM.Name)' has $($drives.Count) hard disks; ddperm expects exactly one." $VM.Name 'InvalidResult')
    }
    return $drives[0]
}

function Assert-DdpermVMOff {
    param([Parameter(Mandatory = $true)] $VM, [Parameter(Mandatory = $true)] [string]$Action)
    $state = [string]$VM.State
    if ($state -ne 'Off') {
        throw (New-DdpermErrorRecord 'DdpermVMNotOff' "Cannot $Action while the virtual machine '$($VM.Name)' is $state; stop it first." $VM.Name 'InvalidOperation')
    }
}

function ConvertTo-DdpermVMInfo {
    # The VMInfo document: enums by name, sizes in bytes.
    param([Parameter(Mandatory = $true)] $VM)
    $disk = @(Hyper-V\Get-VMHardDiskDrive -VM $VM | Microsoft.PowerShell.Utility\Select-Object -First 1)
    $vhdPath = $null
    if ($disk.Count -eq 1) { $vhdPath = [string]$disk[0].Path }
    return [ordered]@{
        name                 = [string]$VM.Name
        vm_id                = [string]$VM.VMId
        state                = [string]$VM.State
        generation           = [int]$VM.Generation
        processor_count      = [int]$VM.ProcessorCount
        memory_startup_bytes = [int64]$VM.MemoryStartup
        vhd_path             = $vhdPath
    }
}

function Get-DdpermShutdownService {
    # The VM's Shutdown integration service, or $null. Matched by the component id that ends
    # its Id ("Microsoft:<VMId>\<component>"): its Name is localised ("Herunterfahren").
    param([Parameter(Mandatory = $true)] $VM)
    $services = @(Hyper-V\Get-VMIntegrationService -VM $VM | Where-Object {
            ([string]$_.Id).EndsWith('\9F8233AC-BE49-4C79-8EE3-E7E1985B2077', [System.StringComparison]::OrdinalIgnoreCase)
        })
    if ($services.Count -eq 0) { return $null }
    return $services[0]
}

function Assert-DdpermNoCheckpoints {
    # Throws DdpermVMHasCheckpoints when the VM has checkpoints or a hard disk that is a
    # differencing disk (a checkpoint's .avhdx, also one left behind by a failed merge): the
    # data is then a chain of files, and deleting or moving the current one alone would
    # orphan or split it. Disk files that do not exist are left to the caller.
    param([Parameter(Mandatory = $true)] $VM, [Parameter(Mandatory = $true)] [string]$Action)
    $fix = 'delete its checkpoints in Hyper-V first (that merges them into the disk)'
    $checkpoints = @(Hyper-V\Get-VMSnapshot -VM $VM)
    if ($checkpoints.Count -gt 0) {
        $names = ($checkpoints | ForEach-Object { "'$($_.Name)'" }) -join ', '
        throw (New-DdpermErrorRecord 'DdpermVMHasCheckpoints' "Cannot $Action`: the virtual machine '$($VM.Name)' has checkpoints ($names); $fix." $VM.Name 'InvalidOperation')
    }
    foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VM $VM)) {
        $path = [string]$drive.Path
        if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $path)) { continue }
        $vhd = Hyper-V\Get-VHD -Path $path
        if ([string]$vhd.VhdType -eq 'Differencing') {
            throw (New-DdpermErrorRecord 'DdpermVMHasCheckpoints' "Cannot $Action`: the disk '$path' of the virtual machine '$($VM.Name)' is a differencing disk over '$($vhd.ParentPath)'; $fix." $path 'InvalidOperation')
        }
    }
}

function Assert-DdpermBootIso {
    # The full path of the .iso file the VM is to boot from, or throws. It is only read, so it
    # may lie in a system location (Docker Desktop's is under Program Files), but nobody but
    # administrators may be able to change it: it must not be reachable through a link, every
    # folder on its path passes Assert-DdpermAdminFolder, and the file grants nobody else a
    # write right (DdpermUnsafeAcl). Whoever could change it would choose what the VM boots.
    param([Parameter(Mandatory = $true)] [string]$Path)
    $full = Assert-DdpermSafePath -Path $Path -What 'boot ISO' -ReadOnly
    if (-not $full.EndsWith('.iso', [System.StringComparison]::OrdinalIgnoreCase)) {
        throw (New-DdpermErrorRecord 'DdpermUnsafePath' "The boot ISO must be an .iso file: '$Path'." $Path)
    }
    if (-not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $full -PathType Leaf)) {
        throw (New-DdpermErrorRecord 'DdpermBootIsoNotFound' "The boot ISO '$full' does not exist." $full 'ObjectNotFound')
    }
    Assert-DdpermAdminFolder -Folder ([System.IO.Path]::GetDirectoryName($full)) -What 'boot ISO'
    $problem = Get-DdpermFolderAclProblem -Folder $full -Rights $DdpermAnyWriteRights
    if ($null -ne $problem) {
        throw (New-DdpermErrorRecord 'DdpermUnsafeAcl' "Refusing the boot ISO '$full': a non-administrator could change it ($problem)." $full)
    }
    return $full
}
