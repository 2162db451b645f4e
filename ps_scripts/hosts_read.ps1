# ddperm-kind: read
# Returns the hosts file's bytes (base64) and their SHA-256, for planning in Python.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include HostsFile

$path = Get-DdpermHostsPath
$bytes = Read-DdpermHostsBytes -Path $path
$exists = $null -ne $bytes
$readonly = $false
if ($exists) {
    $readonly = [System.IO.File]::GetAttributes($path).HasFlag([System.IO.FileAttributes]::ReadOnly)
} else {
    $bytes = New-Object byte[] 0
}
Write-DdpermResult ([ordered]@{
    path           = $path
    exists         = $exists
    readonly       = $readonly
    sha256         = Get-DdpermSha256 -Bytes $bytes
    content_base64 = [System.Convert]::ToBase64String($bytes)
})
