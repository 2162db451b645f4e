# ddperm-kind: ensure
# Enables each named Windows optional feature (with its parents) without restarting; reports
# each feature's state before and after and whether a restart is needed to finish.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^[A-Za-z][A-Za-z0-9._-]{0,99}\z')]
    [string[]]$FeatureName
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Checks

$before = Get-DdpermFeatureStates -Name $FeatureName
foreach ($feature in $before) {
    if ($feature.state -eq 'Absent') {
        throw (New-DdpermCheckError -Message "This edition of Windows has no feature '$($feature.name)'." -ErrorId 'DdpermFeatureAbsent' -Category ObjectNotFound)
    }
}
$restartNeeded = $false
foreach ($feature in $before) {
    if ($feature.state -eq 'Enabled' -or $feature.state -eq 'EnablePending') { continue }
    $result = Dism\Enable-WindowsOptionalFeature -Online -FeatureName $feature.name -All -NoRestart -WarningAction SilentlyContinue
    if ($result.RestartNeeded) { $restartNeeded = $true }
}
$after = Get-DdpermFeatureStates -Name $FeatureName
$changes = @()
for ($i = 0; $i -lt $before.Count; $i++) {
    $changes += [ordered]@{ name = $before[$i].name; before = $before[$i].state; after = $after[$i].state }
}
Write-DdpermResult ([ordered]@{
    features       = (ConvertTo-DdpermList $changes)
    restart_needed = [bool]($restartNeeded -or (Test-DdpermRestartPending))
})
