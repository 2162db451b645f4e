# ddperm-kind: read
# Runs every health check in one round trip; a check that fails reports its own error.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName,

    [Parameter(Mandatory = $true)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^[A-Za-z][A-Za-z0-9._-]{0,99}\z')]
    [string[]]$FeatureName,

    [Parameter(Mandatory = $true)]
    [bool]$WindowsContainers
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks
# ddperm:include Paths
# ddperm:include HyperV
# ddperm:include Engine
# ddperm:include HostsFile
# ddperm:include Policy

$report = [ordered]@{}
try { $report.hyperv = New-DdpermCheckOutcome -Result (Get-DdpermHyperVStatus) } catch { $report.hyperv = New-DdpermCheckOutcome -Failure $_ }
try { $report.bootloader = New-DdpermCheckOutcome -Result (Get-DdpermBootloaderStatus) } catch { $report.bootloader = New-DdpermCheckOutcome -Failure $_ }
try { $report.features = New-DdpermCheckOutcome -Result (Get-DdpermFeaturesReport -Name $FeatureName) } catch { $report.features = New-DdpermCheckOutcome -Failure $_ }
try {
    # the same document as vm_info.ps1
    $vm = Get-DdpermVM -Name $VMName -AllowMissing
    $info = $null
    if ($null -ne $vm) { $info = ConvertTo-DdpermVMInfo -VM $vm }
    $report.vm = New-DdpermCheckOutcome -Result ([ordered]@{ vm = $info })
} catch { $report.vm = New-DdpermCheckOutcome -Failure $_ }
$report.engine = $null  # Windows containers disabled by policy: the engine is not even asked
if ($WindowsContainers) {
    try { $report.engine = New-DdpermCheckOutcome -Result (Get-DdpermEngineStatus) } catch { $report.engine = New-DdpermCheckOutcome -Failure $_ }
}
try { $report.hosts_file = New-DdpermCheckOutcome -Result (Get-DdpermHostsStatus) } catch { $report.hosts_file = New-DdpermCheckOutcome -Failure $_ }
try { $report.policy = New-DdpermCheckOutcome -Result (Get-DdpermPolicyStatus) } catch { $report.policy = New-DdpermCheckOutcome -Failure $_ }
Write-DdpermResult $report
