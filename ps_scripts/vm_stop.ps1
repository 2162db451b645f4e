# ddperm-kind: ensure
# Ensures DockerDesktopVM is Off: a guest shutdown with a deadline; with -Force, a VM that
# does not shut down in time (or is Saved or Paused) is turned off instead. A guest that
# accepted the shutdown but is still shutting down blocks every other state change of the
# VM, so Hyper-V refuses that turn-off (DdpermTurnOffRefused) until the shutdown ends.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('DockerDesktopVM')]
    [string]$VMName,
    [switch]$Force,
    [ValidateRange(1, 600)]
    [int]$TimeoutSeconds = 20
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include HyperV

$vm = Get-DdpermVM -Name $VMName
$state = [string]$vm.State
$changed = $true
$forced = $false
if ($state -eq 'Off') {
    $changed = $false
} elseif ($state -eq 'Running') {
    # Stop-VM can hang when the guest ignores the shutdown request, so it runs as a job.
    $job = Hyper-V\Stop-VM -VM $vm -Force -AsJob
    $finished = Microsoft.PowerShell.Core\Wait-Job -Job $job -Timeout $TimeoutSeconds
    $clean = ($null -ne $finished) -and ($job.State -eq 'Completed')
    $reason = [string]$job.ChildJobs[0].JobStateInfo.Reason
    Microsoft.PowerShell.Core\Stop-Job -Job $job
    Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
    if (-not $clean) {
        if ($null -ne $finished -and -not $Force) {
            # Stop-VM itself failed (e.g. the guest has no shutdown integration service).
            throw (New-DdpermErrorRecord 'DdpermShutdownFailed' "The virtual machine '$VMName' could not be shut down ($reason); stop it with force to turn it off." $VMName 'InvalidOperation')
        }
        if (-not $Force) {
            throw (New-DdpermErrorRecord 'DdpermShutdownTimeout' "The virtual machine '$VMName' did not shut down within $TimeoutSeconds seconds; stop it with force to turn it off." $VMName 'OperationTimeout')
        }
        try {
            Hyper-V\Stop-VM -VM $vm -TurnOff -Force
        } catch {
            if ($null -ne $finished) { throw }
            throw (New-DdpermErrorRecord 'DdpermTurnOffRefused' "The virtual machine '$VMName' did not shut down within $TimeoutSeconds seconds, and Hyper-V refuses to turn it off while its guest is still shutting down ($($_.Exception.Message)). Wait for the shutdown to finish, then stop it again." $VMName 'InvalidOperation')
        }
        $forced = $true
    }
} elseif ($state -eq 'Saved' -or $state -eq 'Paused') {
    if (-not $Force) {
        throw (New-DdpermErrorRecord 'DdpermStopNeedsForce' "The virtual machine '$VMName' is $state; stopping it discards its memory state, so it needs force." $VMName 'InvalidOperation')
    }
    if ($state -eq 'Saved') { Hyper-V\Remove-VMSavedState -VM $vm } else { Hyper-V\Stop-VM -VM $vm -TurnOff -Force }
    $forced = $true
} else {
    # A transitional state (Starting, Saving, ...): Hyper-V answers with InvalidState.
    Hyper-V\Stop-VM -VM $vm -Force
}
Write-DdpermResult ([ordered]@{
    changed = $changed
    forced  = $forced
    vm      = ConvertTo-DdpermVMInfo -VM (Get-DdpermVM -Name $VMName)
})
