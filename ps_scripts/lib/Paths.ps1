# ddperm path library: the host-side re-check of every path a privileged job acts on.
# Python's guard.check_path vets the string; only the host can see links, so this walks
# the path as it exists on disk (Docker Desktop CVE-2022-25365, -31647, -34292).
# Error ids: DdpermUnsafePath (bad string), DdpermReparsePoint (a junction, symbolic link
# or mount point on the path), DdpermSystemPath (the final path is a system folder).

# Drive-less, lowercase: ddperm.guard.SYSTEM_FOLDERS plus the MSI rollback folder and
# upgrade leftovers (a test keeps this equal to the twin's HOST_SYSTEM_FOLDERS). A top-level
# name starting with '$' ($Recycle.Bin, $WinREAgent, ...) is a system location too.
$DdpermSystemFolders = @(
    '\windows',
    '\program files',
    '\program files (x86)',
    '\programdata\microsoft',
    '\system volume information',
    '\$recycle.bin',
    '\recovery',
    '\boot',
    '\users\default',
    '\users\public',
    '\config.msi',
    '\windows.old'
)

function New-DdpermErrorRecord {
    # An ErrorRecord whose FullyQualifiedErrorId is exactly $Id (thrown with 'throw').
    # Also used by lib/HyperV.ps1, which is always included together with this library.
    param([string]$Id, [string]$Message, [string]$Target, [string]$Category = 'SecurityError')
    $exception = New-Object System.InvalidOperationException $Message
    return New-Object System.Management.Automation.ErrorRecord @(
        $exception, $Id, [System.Management.Automation.ErrorCategory]$Category, $Target)
}

function Assert-DdpermSafePath {
    # Returns the full path when it is safe to act on; throws otherwise. Never follows a link:
    # every existing component is inspected for FILE_ATTRIBUTE_REPARSE_POINT, including the
    # last one and dangling links (GetAttributes does not follow reparse points).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string]$Path,
        [string]$What = 'path'
    )
    $shapeOk = ($Path -match '^[A-Za-z]:\\') -and ($Path -notmatch '[\x00-\x1f<>"|?*/]') -and
        ($Path.IndexOf(':', 2) -lt 0)
    $parts = @()
    if ($shapeOk) { $parts = @($Path.Substring(3).Split('\') | Where-Object { $_ -ne '' }) }
    foreach ($part in $parts) {
        if ($part -eq '.' -or $part -eq '..' -or $part -match '~[0-9]' -or $part -match '[. ]$') {
            $shapeOk = $false
        }
    }
    if (-not $shapeOk -or $parts.Count -eq 0) {
        throw (New-DdpermErrorRecord 'DdpermUnsafePath' "The $What is not an absolute local path ddperm may use: '$Path'." $Path)
    }
    $current = $Path.Substring(0, 2).ToUpperInvariant()
    foreach ($part in $parts) {
        $current = $current + '\' + $part
        try {
            $attributes = [System.IO.File]::GetAttributes($current)
        } catch [System.IO.FileNotFoundException] {
            break
        } catch [System.IO.DirectoryNotFoundException] {
            break
        }
        if (($attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
            throw (New-DdpermErrorRecord 'DdpermReparsePoint' "Refusing the $What '$Path': '$current' is a junction, symbolic link or mount point." $current)
        }
    }
    # No component is a link, so the final path is the path itself; re-check it resolved.
    $full = [System.IO.Path]::GetFullPath($Path)
    $relative = $full.Substring(2).TrimEnd('\').ToLowerInvariant()
    $top = '\' + $relative.Substring(1).Split('\')[0]
    foreach ($folder in @($DdpermSystemFolders) + @($top | Where-Object { $_.StartsWith('\$') })) {
        if ($relative -eq $folder -or $relative.StartsWith($folder + '\')) {
            throw (New-DdpermErrorRecord 'DdpermSystemPath' "Refusing the $What '$Path': it is inside the system folder '$folder'." $full)
        }
    }
    return $full
}

function Assert-DdpermSingleLink {
    # Throws DdpermHardLink when the file $Path has more than one name (NTFS hard links):
    # changing its ACL would change the ACL of every other name too (CVE-2020-10665).
    # PowerShell reports LinkType 'HardLink' for a file whose link count is above one.
    param([Parameter(Mandatory = $true)] [string]$Path, [string]$What = 'file')
    $item = Microsoft.PowerShell.Management\Get-Item -LiteralPath $Path -Force
    if ([string]$item.LinkType -eq 'HardLink') {
        throw (New-DdpermErrorRecord 'DdpermHardLink' "Refusing the $What '$Path': it has other names (hard links)." $Path)
    }
}

function New-DdpermFolder {
    # Creates $Path (a path already passed Assert-DdpermSafePath) and every missing parent;
    # returns the folders it created, deepest last, so a rollback can remove exactly those.
    param([Parameter(Mandatory = $true)] [string]$Path)
    $missing = @()
    $current = $Path
    while ($current.Length -gt 3 -and -not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $current)) {
        $missing = @($current) + $missing
        $current = [System.IO.Path]::GetDirectoryName($current)
    }
    foreach ($folder in $missing) { [void][System.IO.Directory]::CreateDirectory($folder) }
    return , $missing
}

function Remove-DdpermCreatedFolders {
    # Rollback of New-DdpermFolder: removes the folders it created, deepest first, if empty.
    param([AllowEmptyCollection()] [string[]]$Folders)
    for ($i = $Folders.Count - 1; $i -ge 0; $i--) {
        try { [System.IO.Directory]::Delete($Folders[$i], $false) } catch { break }
    }
}
