# ddperm-kind: destructive
# Removes ddperm's JEA endpoint: the Ddperm module folder, then the 'ddperm' session
# configuration (Unregister-PSSessionConfiguration restarts WinRM, which ends this session:
# the caller reconnects and checks with jea_status). The role groups and the transcripts
# (the audit trail) are kept.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include Setup
# ddperm:include Jea

$root = Get-DdpermJeaModuleRoot
$removed = [System.IO.Directory]::Exists($root)
if ($removed) {
    Microsoft.PowerShell.Management\Remove-Item -LiteralPath $root -Recurse -Force
}
$registered = $null -ne (Get-DdpermJeaConfiguration)
if ($registered) {
    # This restarts WinRM (restart-service winrm -force): the connection usually drops here.
    $null = Microsoft.PowerShell.Core\Unregister-PSSessionConfiguration -Name $DdpermJeaConfigurationName -Force
}
Write-DdpermResult ([ordered]@{ module_removed = $removed; unregistered = $registered })
