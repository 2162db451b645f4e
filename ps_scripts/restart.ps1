# ddperm-kind: destructive
# Schedules a restart of Windows in DelaySeconds (so this answer gets out first) and reports
# the current boot time, by which the caller recognises the machine once it is back.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateRange(5, 600)]
    [int]$DelaySeconds
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

$state = Get-DdpermBootState
$null = shutdown.exe /r /t $DelaySeconds /d p:4:2 /c 'ddperm provisioning: restart to finish enabling Windows features'
if ($LASTEXITCODE -ne 0) {
    throw (New-DdpermCheckError -Message "shutdown.exe refused to schedule the restart (exit code $LASTEXITCODE)." -ErrorId 'DdpermRestartRefused' -Category InvalidOperation)
}
Write-DdpermResult ([ordered]@{ scheduled = $true; last_boot = $state.last_boot; delay_seconds = $DelaySeconds })
