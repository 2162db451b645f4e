# ddperm-kind: ensure
# Ensures the Windows Docker engine service is Stopped, waiting at most TimeoutSeconds.
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
$before = ConvertTo-DdpermEngineStatus $service
if ($null -ne $service) {
    # A service still starting cannot take a stop control yet (error 1061): let it finish.
    if ($before.status -eq 'StartPending') { Wait-DdpermEngineStatus $service 'Running' $deadline }
    $service.Refresh()
    if ([string]$service.Status -ne 'Stopped' -and [string]$service.Status -ne 'StopPending') {
        Microsoft.PowerShell.Management\Stop-Service -InputObject $service -NoWait -ErrorAction Stop
    }
    Wait-DdpermEngineStatus $service 'Stopped' $deadline
}
$after = ConvertTo-DdpermEngineStatus $service
Write-DdpermResult ([ordered]@{
    changed = ($before.status -ne $after.status)
    before  = $before
    after   = $after
})
