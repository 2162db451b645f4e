# ddperm-kind: ensure
# Replaces the hosts file with new bytes only if it still has the hash that was read (compare-and-swap).
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateLength(0, 11184812)]
    [ValidatePattern('(?-i)^[A-Za-z0-9+/]*={0,2}\z')]
    [string]$ContentBase64,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('(?-i)^[0-9a-f]{64}\z')]
    [string]$ExpectedSha256
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include HostsFile

$path = Get-DdpermHostsPath
$temp = $path + '.ddperm.tmp'
$backup = $path + '.ddperm.bak'
$new = [System.Convert]::FromBase64String($ContentBase64)
$newSha = Get-DdpermSha256 -Bytes $new

if ([System.IO.File]::Exists($path) -and
    ([System.IO.File]::GetAttributes($path) -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
    throw (New-DdpermHostsError 'DdpermReparsePoint' "Refusing the hosts file '$path': it is a junction, symbolic link or mount point." 'SecurityError' $path $null)
}
$current = Read-DdpermHostsBytes -Path $path
$currentSha = Get-DdpermSha256 -Bytes (New-Object byte[] 0)
if ($null -ne $current) { $currentSha = Get-DdpermSha256 -Bytes $current }
if ($null -ne $current -and $currentSha -ceq $newSha) {
    # Already done (e.g. a retry after the connection dropped): nothing to write.
    Write-DdpermResult ([ordered]@{ changed = $false; sha256 = $newSha; size = [int64]$new.Length; backup_path = $null })
    return
}
if ($currentSha -cne $ExpectedSha256) {
    throw (New-DdpermHostsError 'DdpermHostsChanged' "The hosts file '$path' changed since ddperm read it (another program edited it); nothing was written. Run ensure again." 'InvalidOperation' $path $null)
}
if ($null -ne $current -and [System.IO.File]::GetAttributes($path).HasFlag([System.IO.FileAttributes]::ReadOnly)) {
    throw (New-DdpermHostsError 'DdpermHostsReadOnly' "The hosts file '$path' is read-only; nothing was changed. Clear the read-only attribute if ddperm should maintain kubernetes.docker.internal." 'PermissionDenied' $path $null)
}
try {
    # The new bytes reach the disk before the swap, so a crash leaves the old or the new file.
    $stream = New-Object System.IO.FileStream @($temp, [System.IO.FileMode]::Create,
        [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 4096,
        [System.IO.FileOptions]::WriteThrough)
    try {
        $stream.Write($new, 0, $new.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    if ($null -eq $current) {
        [System.IO.File]::Move($temp, $path)
        $backupPath = $null
    } else {
        # File.Replace keeps the hosts file's ACL and attributes; the old file becomes the backup.
        [System.IO.File]::Replace($temp, $path, $backup)
        $backupPath = $backup
    }
} catch [System.UnauthorizedAccessException] {
    throw (New-DdpermHostsError 'DdpermHostsAccessDenied' "Access to the hosts file '$path' is denied; run ddperm elevated. Nothing was changed." 'PermissionDenied' $path $_.Exception)
} catch [System.IO.IOException] {
    throw (New-DdpermHostsError 'DdpermHostsLocked' "The hosts file '$path' is locked by another program (antivirus, an editor); nothing was changed. Close it and retry." 'ResourceBusy' $path $_.Exception)
} finally {
    # ReplaceFile's error 1177 (ERROR_UNABLE_TO_MOVE_REPLACEMENT_2) comes after the hosts file
    # was renamed to the backup name: put it back, so "nothing was changed" holds.
    if ($null -ne $current -and -not [System.IO.File]::Exists($path) -and [System.IO.File]::Exists($backup)) {
        try {
            [System.IO.File]::Move($backup, $path)
        } catch {
            throw (New-DdpermHostsError 'DdpermHostsMissing' "Windows left no hosts file at '$path' after a failed replace and ddperm could not put it back: the original is '$backup'; rename it to 'hosts'." 'WriteError' $path $_.Exception)
        }
    }
    if ([System.IO.File]::Exists($temp)) { [System.IO.File]::Delete($temp) }
}
Write-DdpermResult ([ordered]@{ changed = $true; sha256 = $newSha; size = [int64]$new.Length; backup_path = $backupPath })
