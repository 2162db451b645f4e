# ddperm-kind: ensure
# Sets hypervisorlaunchtype of the running OS's loader ({current}) to Auto through the BCD
# WMI provider (element 0x250000F0 = 1); takes effect at the next start of Windows.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

$before = Get-DdpermBootloaderStatus
$changed = $false
if ($before.launch_type -ne 'Auto') {
    $store = CimCmdlets\Invoke-CimMethod -Namespace 'root\WMI' -ClassName 'BcdStore' -MethodName 'OpenStore' -Arguments @{ File = '' }
    $loader = CimCmdlets\Invoke-CimMethod -InputObject $store.Store -MethodName 'OpenObject' -Arguments @{ Id = '{fa926493-6f1c-4193-a414-58f0b2456d1e}' }
    $set = CimCmdlets\Invoke-CimMethod -InputObject $loader.Object -MethodName 'SetIntegerElement' -Arguments @{ Type = [uint32]0x250000F0; Integer = [uint64]1 }
    if (-not $set.ReturnValue) {
        throw (New-DdpermCheckError -Message 'The BCD provider refused to set hypervisorlaunchtype.' -ErrorId 'DdpermBcdSetFailed' -Category WriteError)
    }
    $changed = $true
}
$after = Get-DdpermBootloaderStatus
Write-DdpermResult ([ordered]@{
    before         = $before.launch_type
    after          = $after.launch_type
    changed        = $changed
    restart_needed = $changed
})
