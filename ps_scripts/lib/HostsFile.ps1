# ddperm hosts-file library: reading the hosts file as bytes and reporting its state.
# The planning itself is done in Python (ddperm/hostsfile.py); this side only reads, checks
# and, in hosts_write.ps1, swaps the file. Keep Get-DdpermHostsStatus equal to
# ddperm.hostsfile.facts(): the bytes are decoded as ISO-8859-1 so one char is one byte.
# Error ids: DdpermHostsLocked, DdpermHostsAccessDenied, DdpermHostsTooLarge,
# DdpermHostsReadOnly, DdpermHostsChanged, DdpermHostsMissing, DdpermReparsePoint.

$DdpermHostsMaxBytes = 8MB
$DdpermHostsBegin = '# Added by ddperm'
$DdpermHostsEnd = '# End of ddperm section'
$DdpermHostsEntry = '127.0.0.1 kubernetes.docker.internal'
$DdpermHostsName = 'kubernetes.docker.internal'
$DdpermLatin1 = [System.Text.Encoding]::GetEncoding(28591)
$DdpermRegexOptions = [System.Text.RegularExpressions.RegexOptions]'IgnoreCase, Multiline, CultureInvariant'

function New-DdpermHostsError {
    # An ErrorRecord whose FullyQualifiedErrorId is exactly $Id; the cause stays inside.
    param([string]$Id, [string]$Message, [string]$Category, [string]$Target, $Cause)
    if ($null -eq $Cause) {
        $exception = New-Object System.InvalidOperationException $Message
    } else {
        $exception = New-Object System.InvalidOperationException @($Message, $Cause)
    }
    return New-Object System.Management.Automation.ErrorRecord @(
        $exception, $Id, [System.Management.Automation.ErrorCategory]$Category, $Target)
}

function Get-DdpermHostsPath {
    return [System.Environment]::SystemDirectory + '\drivers\etc\hosts'
}

function Get-DdpermSha256 {
    param([byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $hash = $sha.ComputeHash($Bytes)
    } finally {
        $sha.Dispose()
    }
    return ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
}

function Read-DdpermHostsBytes {
    # The file's bytes, or $null when it does not exist. Others may keep it open for
    # reading and writing; a lock that shares nothing is DdpermHostsLocked.
    param([Parameter(Mandatory = $true)] [string]$Path)
    try {
        $stream = [System.IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite, Delete')
    } catch [System.IO.FileNotFoundException] {
        return $null
    } catch [System.IO.DirectoryNotFoundException] {
        return $null
    } catch [System.UnauthorizedAccessException] {
        throw (New-DdpermHostsError 'DdpermHostsAccessDenied' "Access to the hosts file '$Path' is denied; run ddperm elevated. Nothing was changed." 'PermissionDenied' $Path $_.Exception)
    } catch [System.IO.IOException] {
        throw (New-DdpermHostsError 'DdpermHostsLocked' "The hosts file '$Path' is locked by another program (antivirus, an editor); nothing was changed. Close it and retry." 'ResourceBusy' $Path $_.Exception)
    }
    try {
        if ($stream.Length -gt $DdpermHostsMaxBytes) {
            throw (New-DdpermHostsError 'DdpermHostsTooLarge' "The hosts file '$Path' is $($stream.Length) bytes, more than ddperm edits ($DdpermHostsMaxBytes); nothing was changed." 'LimitsExceeded' $Path $null)
        }
        $bytes = New-Object byte[] ([int]$stream.Length)
        $read = 0
        while ($read -lt $bytes.Length) {
            $n = $stream.Read($bytes, $read, $bytes.Length - $read)
            if ($n -le 0) { break }
            $read += $n
        }
    } finally {
        $stream.Dispose()
    }
    return , $bytes
}

function Get-DdpermEol {
    # "`r`n" unless lines ending in a bare LF outnumber those ending in CRLF.
    param([string]$Text)
    $crlf = [regex]::Matches($Text, "`r`n").Count
    $lf = [regex]::Matches($Text, "`n").Count - $crlf
    if ($lf -gt $crlf) { return "`n" }
    return "`r`n"
}

function Get-DdpermHostsSection {
    param([string]$Eol)
    return $DdpermHostsBegin + $Eol + $DdpermHostsEntry + $Eol + $DdpermHostsEnd + $Eol
}

function Get-DdpermHostsEntryCount {
    # Active lines (before any '#') whose names include kubernetes.docker.internal: a first
    # token (the address), then the name as a later whole token. One regex over the whole
    # text, never a pipeline per line: ad-block hosts files of 100k+ lines would take tens
    # of seconds on 5.1 (tests/vetting.py refuses pipeline cmdlets inside loops).
    param([string]$Text)
    $entry = '^[ \t\r\v\f]*[^ \t\r\v\f\n#]+(?:[ \t\r\v\f]+[^ \t\r\v\f\n#]+)*?[ \t\r\v\f]+' +
        [regex]::Escape($DdpermHostsName) + '(?=[ \t\r\v\f#]|$)'
    return [regex]::Matches($Text, $entry, $DdpermRegexOptions).Count
}

function Get-DdpermHostsStatus {
    # The hosts file's state: whether ensure would change it, and what it found.
    $path = Get-DdpermHostsPath
    $bytes = Read-DdpermHostsBytes -Path $path
    $exists = $null -ne $bytes
    $readonly = $false
    if ($exists) {
        $readonly = [System.IO.File]::GetAttributes($path).HasFlag([System.IO.FileAttributes]::ReadOnly)
    } else {
        $bytes = New-Object byte[] 0
    }
    $result = [ordered]@{
        path                 = $path
        exists               = $exists
        readonly             = $readonly
        size                 = [int64]$bytes.Length
        sha256               = Get-DdpermSha256 -Bytes $bytes
        has_bom              = $false
        line_ending          = 'CRLF'
        sections             = 0
        in_sync              = $false
        entries              = 0
        docker_sections      = 0
        unsupported_encoding = $false
    }
    $text = $DdpermLatin1.GetString($bytes)
    $wide = @(([string][char]0xFF + [char]0xFE), ([string][char]0xFE + [char]0xFF),
        ([string][char]0 + [char]0 + [char]0xFE + [char]0xFF))
    foreach ($bom in $wide) {
        if ($text.StartsWith($bom, [System.StringComparison]::Ordinal)) {
            $result.unsupported_encoding = $true
            return $result
        }
    }
    $utf8Bom = [string][char]0xEF + [char]0xBB + [char]0xBF
    if ($text.StartsWith($utf8Bom, [System.StringComparison]::Ordinal)) {
        $result.has_bom = $true
        $text = $text.Substring(3)
    }
    $markers = New-Object System.Text.RegularExpressions.Regex @(
        '^[ \t\r]*(# added by ddperm|# end of ddperm section)[ \t\r]*$', $DdpermRegexOptions)
    $begins = New-Object System.Text.RegularExpressions.Regex @(
        '^[ \t\r]*# added by ddperm[ \t\r]*$', $DdpermRegexOptions)
    $docker = New-Object System.Text.RegularExpressions.Regex @(
        '^[ \t\r]*(# added by docker desktop|# added by docker for windows)[ \t\r]*$', $DdpermRegexOptions)
    if ((Get-DdpermEol -Text $text) -eq "`n") { $result.line_ending = 'LF' }
    $result.sections = $begins.Matches($text).Count
    $result.docker_sections = $docker.Matches($text).Count
    $result.entries = Get-DdpermHostsEntryCount -Text $text
    foreach ($eol in @("`r`n", "`n")) {
        $section = Get-DdpermHostsSection -Eol $eol
        if ($text.StartsWith($section, [System.StringComparison]::Ordinal)) {
            $rest = $text.Substring($section.Length)
            if (-not $markers.IsMatch($rest) -and (Get-DdpermEol -Text $rest) -eq $eol) {
                $result.in_sync = $true
            }
        }
    }
    return $result
}
