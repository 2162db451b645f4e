# ddperm path library: the host-side re-check of every path a privileged job acts on.
# Python's guard.check_path vets the string first, but a caller can skip Python (the raw
# service API, plain PSRP with a vetted script), so this refuses at least everything the
# guard refuses, and then looks at what only the host can see: links on the path (Docker
# Desktop CVE-2022-25365, -31647, -34292) and who could change the folders on it
# (CVE-2022-38730, CVE-2025-3224).
# Error ids: DdpermUnsafePath (a string the guard refuses), DdpermReparsePoint (a junction,
# symbolic link or mount point on the path), DdpermSystemPath (the path, as it resolves,
# is or lies in a system location), DdpermUnsafeAcl (a non-administrator could change a
# folder on the path, so could swap it for a link or plant files in it).

# ddperm.guard's lists, repeated because the host must not trust the caller to have run
# the guard (tests/test_path_parity.py keeps every list here equal to the guard's).
# Drive-less, lowercase; the path itself or anything below it is refused.
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
    '\windows.old',
    '\config.msi',
    '\documents and settings',
    '\users\all users',
    '\programdata\application data',
    '\pagefile.sys',
    '\hiberfil.sys',
    '\swapfile.sys'
)
# Only these folders themselves; paths below them are fine. A top-level name starting with
# '$' ($Recycle.Bin, $WinREAgent, $Extend, ...) is a system location too.
$DdpermSharedRoots = @('\programdata', '\users')
$DdpermMaxPath = 259
$DdpermMaxSegment = 255
# Win32-forbidden name characters and PowerShell wildcards (a -Path slip must match nothing).
$DdpermForbiddenChars = '<>:"|?*[]`'
$DdpermReservedNames = '^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9]|LPT[0-9])$'
# Invisible or unusable characters, by .NET UnicodeCategory (a character outside the BMP is
# a surrogate pair in a .NET string, so it is refused here even where the guard allows it).
$DdpermBadCategories = @('Control', 'Format', 'Surrogate', 'PrivateUse', 'OtherNotAssigned',
    'LineSeparator', 'ParagraphSeparator')
# What a non-ASCII look-alike must never stand for, and the characters Windows' ANSI
# "best fit" turns into a separator or a quote (WorstFit).
$DdpermLookalikeTargets = '\/:."*?<>|'
$DdpermBestFit = @(0x00A5, 0x20A9, 0x2216, 0x29F5, 0x29F9, 0xFE68, 0x2215, 0x2044, 0x29F8,
    0x201C, 0x201D, 0x201E, 0x2033)

# Folder ACLs: who may own a folder on a path or hold rights that change it.
$DdpermTrustedSids = @('S-1-5-18', 'S-1-5-32-544',
    'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
# Any write: WriteData, AppendData, WriteEA, DeleteChild, WriteAttributes, Delete, WRITE_DAC,
# WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE.
$DdpermAnyWriteRights = [int64]0x500D0156
# What lets someone remove, rename or re-ACL a folder or its children: DeleteChild, Delete,
# WRITE_DAC, WRITE_OWNER, GENERIC_ALL. (Creating siblings of a folder does not move it.)
$DdpermReplaceRights = [int64]0x100D0040
# Reading content: ReadData/ListDirectory, GENERIC_ALL, GENERIC_READ. A data folder or move
# destination grants it to nobody else, or the VM's disk (the user's whole Linux file
# system) inherits a read right for other local users.
$DdpermReadDataRights = [int64]0x90000001

function New-DdpermErrorRecord {
    # An ErrorRecord whose FullyQualifiedErrorId is exactly $Id (thrown with 'throw').
    # Also used by lib/HyperV.ps1, which is always included together with this library.
    param([string]$Id, [string]$Message, [string]$Target, [string]$Category = 'SecurityError')
    $exception = New-Object System.InvalidOperationException $Message
    return New-Object System.Management.Automation.ErrorRecord @(
        $exception, $Id, [System.Management.Automation.ErrorCategory]$Category, $Target)
}

function Get-DdpermSegmentProblem {
    # Why one path component is refused (the guard's _segment_problem), or $null.
    param([AllowEmptyString()] [string]$Segment)
    if ($Segment -eq '') { return 'an empty segment' }
    if ($Segment -eq '.' -or $Segment -eq '..') { return "a '.' or '..' segment" }
    if ($Segment.Length -gt $DdpermMaxSegment) { return "a name longer than $DdpermMaxSegment characters" }
    foreach ($char in $Segment.ToCharArray()) {
        $code = [int]$char
        if ($code -lt 0x80) {
            if ($code -lt 0x20 -or $code -eq 0x7f -or $DdpermForbiddenChars.IndexOf($char) -ge 0) {
                return ('the character U+{0:X4}' -f $code)
            }
            continue
        }
        $category = [string][System.Globalization.CharUnicodeInfo]::GetUnicodeCategory($char)
        if ($DdpermBadCategories -contains $category -or $category -eq 'SpaceSeparator' -or
            $DdpermBestFit -contains $code) {
            return ('the invisible or look-alike character U+{0:X4}' -f $code)
        }
        $text = [string]$char
        $forms = @($text.Normalize([System.Text.NormalizationForm]::FormKC), $text.ToUpperInvariant(),
            $text.ToLowerInvariant())
        foreach ($form in $forms) {
            if (($form.Length -eq 1 -and [int]$form[0] -lt 0x80) -or
                $form.IndexOfAny($DdpermLookalikeTargets.ToCharArray()) -ge 0) {
                return ('the character U+{0:X4}, which can pass for ASCII' -f $code)
            }
        }
    }
    if ($Segment -match '[. ]$') { return 'a name ending in a dot or space' }
    if ($Segment.Split('.')[0].Trim(' ') -match $DdpermReservedNames) { return 'a reserved device name' }
    if ($Segment -match '~[0-9]') { return 'an 8.3 short name' }
    return $null
}

function Get-DdpermSystemLocation {
    # The protected location (guard._system_folder) that the full path $Full is or lies in, or $null.
    param([string]$Full)
    $relative = $Full.Substring(2).TrimEnd('\').ToLowerInvariant()
    $top = '\' + $relative.Substring(1).Split('\')[0]
    if ($top.StartsWith('\$')) { return $top }
    if ($DdpermSharedRoots -contains $relative) { return $relative }
    foreach ($folder in $DdpermSystemFolders) {
        if ($relative -eq $folder -or $relative.StartsWith($folder + '\')) { return $folder }
    }
    return $null
}

function Assert-DdpermNoLink {
    # Throws DdpermReparsePoint when an existing component of the drive path $Path is a
    # junction, symbolic link or mount point. For paths ddperm found itself (a folder it
    # walks), whose names need not pass the guard's rules; callers' paths go through
    # Assert-DdpermSafePath.
    param([Parameter(Mandatory = $true)] [string]$Path, [string]$What = 'path')
    $current = $Path.Substring(0, 2).ToUpperInvariant()
    foreach ($part in @($Path.Substring(3).Split('\') | Where-Object { $_ -ne '' })) {
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
}

function Assert-DdpermSafePath {
    # Returns the full path when it is safe to act on; throws otherwise. First every rule of
    # the guard's string check; then it walks the path as it exists, never following a link:
    # every existing component is inspected for FILE_ATTRIBUTE_REPARSE_POINT, including the
    # last one and dangling links (GetAttributes does not follow reparse points). Only with no
    # link on it is the path what it resolves to; that resolved path must not be a system one,
    # unless -ReadOnly: the job only reads it (a boot ISO).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [AllowEmptyString()] [string]$Path,
        [string]$What = 'path',
        [switch]$ReadOnly
    )
    $problem = $null
    if ($Path.Length -gt $DdpermMaxPath) { $problem = "longer than $DdpermMaxPath characters" }
    elseif ($Path -notmatch '^[A-Za-z]:\\') { $problem = 'not an absolute path on a drive letter' }
    elseif ($Path.IndexOf('/') -ge 0) { $problem = 'written with forward slashes' }
    $parts = @()
    if ($null -eq $problem) {
        $parts = @($Path.Substring(3).Split('\'))
        if ($parts[-1] -eq '') { $parts = @($parts | Select-Object -First ($parts.Count - 1)) }
        if ($parts.Count -eq 0) { $problem = 'the root of a drive' }
    }
    foreach ($part in $parts) {
        if ($null -ne $problem) { break }
        $problem = Get-DdpermSegmentProblem $part
    }
    if ($null -ne $problem) {
        throw (New-DdpermErrorRecord 'DdpermUnsafePath' "The $What is not an absolute local path ddperm may use ($problem): '$Path'." $Path)
    }
    Assert-DdpermNoLink -Path $Path -What $What
    $full = [System.IO.Path]::GetFullPath($Path).TrimEnd('\')
    $location = Get-DdpermSystemLocation $full
    if ($null -ne $location -and -not $ReadOnly) {
        throw (New-DdpermErrorRecord 'DdpermSystemPath' "Refusing the $What '$Path': it is the system location '$location' or inside it." $full)
    }
    return $full
}

function Get-DdpermFolderAclProblem {
    # Why a non-administrator could change the folder $Folder: its owner, or an allow ACE
    # (inherited or not) granting an untrusted SID any of $Rights. An inherit-only ACE grants
    # nothing on the folder itself, only on what is created in it: it counts with
    # -Inheritable, except CREATOR OWNER's, whose rights go to whoever creates (SYSTEM or
    # the administrator running the job). $null if there is no such problem.
    param([string]$Folder, [int64]$Rights, [switch]$Inheritable)
    $acl = Microsoft.PowerShell.Security\Get-Acl -LiteralPath $Folder
    $owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($DdpermTrustedSids -notcontains $owner) { return "it is owned by $owner" }
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $inheritOnly = ($rule.PropagationFlags -band [System.Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0
        $sid = $rule.IdentityReference.Value
        if ($rule.AccessControlType -ne 'Allow' -or ($inheritOnly -and (-not $Inheritable -or $sid -eq 'S-1-3-0'))) { continue }
        if ($DdpermTrustedSids -notcontains $sid -and (([int64]$rule.FileSystemRights -band $Rights) -ne 0)) {
            return "$sid holds $($rule.FileSystemRights)"
        }
    }
    return $null
}

function Assert-DdpermAdminFolder {
    # Throws DdpermUnsafeAcl unless no non-administrator can change the folder $Folder (a path
    # that passed Assert-DdpermSafePath) before SYSTEM writes into it. Every existing folder
    # on it below the volume root must be owned by SYSTEM, Administrators or TrustedInstaller
    # and grant nobody else the right to delete, rename or re-ACL it or its children (or the
    # path could be swapped for a junction). The folder itself, once it exists, must grant
    # nobody else any write right, nor pass one on to what is created in it (files SYSTEM
    # writes there inherit its ACL); with -Private, no read right either (a VM disk other
    # users could read is the user's whole Linux file system). A folder ddperm is about to create in an existing one
    # needs only the first rule there: users may create folders in C:\ProgramData, but not
    # remove or rename what is in it, and what ddperm creates gets an admin-only ACL
    # (New-DdpermFolder), checked again once it exists. The volume root is not checked.
    # There is no exception for the caller's profile: there the user may rename any folder,
    # and the host cannot tell who asked (the service runs as SYSTEM).
    param([Parameter(Mandatory = $true)] [string]$Folder, [string]$What = 'folder', [switch]$Private)
    $parts = @($Folder.Substring(3).Split('\') | Where-Object { $_ -ne '' })
    $existing = @()
    $current = $Folder.Substring(0, 2)
    foreach ($part in $parts) {
        $current = $current + '\' + $part
        if (-not [System.IO.Directory]::Exists($current)) { break }
        $existing += $current
    }
    for ($i = 0; $i -lt $existing.Count; $i++) {
        if ($i -eq $parts.Count - 1) {
            $rights = $DdpermAnyWriteRights
            if ($Private) { $rights = $rights -bor $DdpermReadDataRights }
            $problem = Get-DdpermFolderAclProblem -Folder $existing[$i] -Rights $rights -Inheritable
        } else {
            $problem = Get-DdpermFolderAclProblem -Folder $existing[$i] -Rights $DdpermReplaceRights
        }
        if ($null -ne $problem) {
            throw (New-DdpermErrorRecord 'DdpermUnsafeAcl' "Refusing the $What '$Folder': a non-administrator could change or read '$($existing[$i])' ($problem)." $existing[$i])
        }
    }
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

function New-DdpermAdminFolderSecurity {
    # Protected (no inheritance), owner Administrators; SYSTEM and Administrators full control
    # and $Readers read and execute, inherited by everything created inside: what Docker
    # Desktop's installer gives vm-data (no readers) and the policy cache folder (Users).
    param([string[]]$Readers = @())
    $security = New-Object System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
    $grants = @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'))
    foreach ($sid in $Readers) { $grants += , @($sid, 'ReadAndExecute') }
    foreach ($grant in $grants) {
        $security.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule @(
            (New-Object System.Security.Principal.SecurityIdentifier $grant[0]),
            [System.Security.AccessControl.FileSystemRights]$grant[1],
            [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit',
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow)))
    }
    return $security
}

function New-DdpermDirectory {
    # Creates the one folder $Path carrying $Security from the start, so it never has an
    # inherited ACL a user could use in between; does nothing if it exists (the caller checks
    # what is there afterwards). DirectoryInfo.Create(DirectorySecurity) is .NET Framework's;
    # on .NET (PowerShell 7) it is the extension method FileSystemAclExtensions.Create, which
    # PowerShell does not bind to the DirectoryInfo, so it is called as a static method.
    param([Parameter(Mandatory = $true)] [string]$Path,
        [Parameter(Mandatory = $true)] [System.Security.AccessControl.DirectorySecurity]$Security)
    $info = New-Object System.IO.DirectoryInfo $Path
    if ($PSVersionTable.PSEdition -eq 'Core') {
        [System.IO.FileSystemAclExtensions]::Create($info, $Security)
    } else {
        $info.Create($Security)
    }
}

function New-DdpermFolder {
    # Creates $Path (a path already passed Assert-DdpermSafePath) and every missing parent,
    # each created with an admin-only ACL; returns the folders it created, deepest last, so a
    # rollback can remove exactly those. Assert-DdpermAdminFolder runs before (nothing is
    # created in a folder a user could change) and after, with the link check (a user who
    # created a missing folder or a junction first owns it); on a refusal afterwards it
    # removes what it created, then throws.
    param([Parameter(Mandatory = $true)] [string]$Path, [string]$What = 'folder', [switch]$Private)
    Assert-DdpermAdminFolder -Folder $Path -What $What -Private:$Private
    $missing = @()
    $current = $Path
    while ($current.Length -gt 3 -and -not (Microsoft.PowerShell.Management\Test-Path -LiteralPath $current)) {
        $missing = @($current) + $missing
        $current = [System.IO.Path]::GetDirectoryName($current)
    }
    try {
        foreach ($folder in $missing) {
            New-DdpermDirectory -Path $folder -Security (New-DdpermAdminFolderSecurity)
        }
        Assert-DdpermNoLink -Path $Path -What $What
        Assert-DdpermAdminFolder -Folder $Path -What $What -Private:$Private
    } catch {
        $failure = $_
        Remove-DdpermCreatedFolders -Folders $missing
        throw $failure
    }
    return , $missing
}

function Remove-DdpermCreatedFolders {
    # Rollback of New-DdpermFolder: removes the folders it created, deepest first, if empty.
    param([AllowEmptyCollection()] [string[]]$Folders)
    for ($i = $Folders.Count - 1; $i -ge 0; $i--) {
        try { [System.IO.Directory]::Delete($Folders[$i], $false) } catch { break }
    }
}
