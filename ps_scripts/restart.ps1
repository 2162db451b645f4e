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
# shutdown.exe reports a refusal on stderr. Windows PowerShell 5.1 turns each stderr line of
# a native program into an error record when stderr is redirected or the session is remote
# (PSRP), and $ErrorActionPreference = 'Stop' would make the first one terminating
# (PowerShell #3996) before the exit code is read; so stderr is merged and the exit code decides.
$ErrorActionPreference = 'Continue'
$null = shutdown.exe /r /t $DelaySeconds /d p:4:2 /c 'ddperm provisioning: restart to finish enabling Windows features' 2>&1
$exitCode = $LASTEXITCODE
$ErrorActionPreference = 'Stop'
if ($exitCode -ne 0) {
    throw (New-DdpermCheckError -Message "shutdown.exe refused to schedule the restart (exit code $exitCode)." -ErrorId 'DdpermRestartRefused' -Category InvalidOperation)
}
Write-DdpermResult ([ordered]@{ scheduled = $true; last_boot = $state.last_boot; delay_seconds = $DelaySeconds })
