# ddperm-kind: ensure
# Ensures DockerDesktopVM is Off. A running VM is shut down by its guest, through the
# Shutdown integration service, within a deadline; it is turned off only with -Force: when
# that service is not available, when the shutdown fails or does not end in time, and for a
# Saved or Paused VM. A guest still in a shutdown it accepted blocks every other state
# change of the VM, so Hyper-V refuses that turn-off (DdpermTurnOffRefused) until it ends.
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
    $failure = $null
    $service = Get-DdpermShutdownService -VM $vm
    if ($null -eq $service -or -not $service.Enabled -or [string]$service.PrimaryOperationalStatus -ne 'Ok') {
        # Stop-VM would ask "turn it off instead?", and answers that itself with -AsJob. (If
        # the service goes away between this check and Stop-VM's own, Stop-VM still does.)
        $status = 'missing'
        if ($null -ne $service) { $status = "'$($service.Name)' (enabled: $($service.Enabled), status: $($service.PrimaryOperationalStatus))" }
        $failure = New-DdpermErrorRecord 'DdpermShutdownUnavailable' "The virtual machine '$VMName' cannot be shut down by its guest: the shutdown integration service is $status; stop it with force to turn it off." $VMName 'InvalidOperation'
    } else {
        # Without -Force, which asks the guest for a forced shutdown instead (and, as the
        # eryph e2e tests show, may end in a turn-off); ddperm turns off only when asked.
        # As a job because Stop-VM waits without end for a guest that never finishes. That job
        # is Hyper-V's own: no child jobs, always Completed, failures only in its .Error.
        $job = $null
        $finished = $null
        $errors = @()
        try {
            $job = Hyper-V\Stop-VM -VM $vm -AsJob
            $finished = Microsoft.PowerShell.Core\Wait-Job -Job $job -Timeout $TimeoutSeconds
            $errors = @($job.Error)
        } finally {
            # Removed once finished. One still running is left to finish: Remove-Job would
            # dispose it under Hyper-V's worker thread, whose closing SetJobState then throws
            # ObjectDisposedException on a thread-pool thread, which ends the host process.
            if ($null -ne $job -and @('Completed', 'Stopped', 'Failed') -contains [string]$job.JobStateInfo.State) {
                Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
            }
        }
        $now = [string](Get-DdpermVM -Name $VMName).State
        # Judged by the VM's state: the job's own state says nothing.
        if ($now -ne 'Off' -and $null -eq $finished) {
            $failure = New-DdpermErrorRecord 'DdpermShutdownTimeout' "The virtual machine '$VMName' did not shut down within $TimeoutSeconds seconds; stop it with force to turn it off." $VMName 'OperationTimeout'
        } elseif ($now -ne 'Off') {
            $reason = "it is $now"
            if ($errors.Count -gt 0) { $reason = $errors[0].Exception.Message }
            $failure = New-DdpermErrorRecord 'DdpermShutdownFailed' "The virtual machine '$VMName' could not be shut down ($reason); stop it with force to turn it off." $VMName 'InvalidOperation'
        }
    }
    if ($null -ne $failure) {
        if (-not $Force) { throw $failure }
        try {
            Hyper-V\Stop-VM -VM $vm -TurnOff -Force
        } catch {
            if ($failure.FullyQualifiedErrorId -ne 'DdpermShutdownTimeout') { throw }
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
    # Any other state (Starting, Saving, RunningCritical, ...): no Stop-VM at all. What it does
    # there is not documented, and a synchronous guest shutdown would have no deadline.
    throw (New-DdpermErrorRecord 'DdpermVMBusy' "The virtual machine '$VMName' is $state; ddperm stops it only when it is Running, Saved or Paused. Try again once it has settled." $VMName 'ResourceBusy')
}
Write-DdpermResult ([ordered]@{
    changed = $changed
    forced  = $forced
    vm      = ConvertTo-DdpermVMInfo -VM (Get-DdpermVM -Name $VMName)
})
