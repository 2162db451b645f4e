# ddperm-kind: read
# Reports the host's OS build and PowerShell version (ddperm adds its own version).
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common

$os = CimCmdlets\Get-CimInstance -ClassName Win32_OperatingSystem
$edition = 'Desktop'
if ($PSVersionTable.ContainsKey('PSEdition')) { $edition = [string]$PSVersionTable.PSEdition }
Write-DdpermResult ([ordered]@{
    os_caption         = [string]$os.Caption
    os_version         = [string]$os.Version
    os_build           = [int]$os.BuildNumber
    powershell_version = $PSVersionTable.PSVersion.ToString()
    powershell_edition = $edition
    computer_name      = [string]$env:COMPUTERNAME
})
