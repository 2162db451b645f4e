# ddperm-kind: ensure
# Ensures the Windows Docker engine service is Running, waiting at most TimeoutSeconds.
[CmdletBinding()]
param(
    [ValidateRange(1, 600)]
    [int]$TimeoutSeconds = 60
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Engine

$deadline = (Get-Date).AddSeconds($TimeoutSeconds)
$service = Get-DdpermEngineService
if ($null -eq $service) {
    throw (New-DdpermEngineError 'DdpermEngineNotInstalled' "The Windows Docker engine service 'docker' is not installed; Docker Desktop registers it to run Windows containers (install Docker Desktop first)." 'ObjectNotFound')
}
$before = ConvertTo-DdpermEngineStatus $service
if ($before.status -eq 'StopPending') { Wait-DdpermEngineStatus $service 'Stopped' $deadline }
$service.Refresh()
$status = [string]$service.Status
if ($status -eq 'Stopped' -or $status -eq 'Paused') {
    # ServiceController rather than Start-Service, which waits without end. The service
    # starts with the command line it is registered with (dockerd ignores start
    # arguments); a paused one is continued, as StartService on it fails with error 1056.
    try {
        if ($status -eq 'Paused') { $service.Continue() } else { $service.Start() }
    } catch [System.Management.Automation.MethodInvocationException] {
        $reason = $_.Exception.InnerException
        $message = "Service '$($service.DisplayName) (docker)' cannot be started due to the following error: $($reason.Message)"
        if ($null -ne $reason.InnerException) { $message = $message + ' ' + $reason.InnerException.Message }
        $exception = New-Object Microsoft.PowerShell.Commands.ServiceCommandException @($message, $reason)
        throw (New-DdpermEngineError 'CouldNotStartService' $message 'OpenError' $exception)
    }
}
Wait-DdpermEngineStatus $service 'Running' $deadline
$after = ConvertTo-DdpermEngineStatus $service
Write-DdpermResult ([ordered]@{
    changed = ($before.status -ne $after.status)
    before  = $before
    after   = $after
})
