# ddperm engine library: the Windows Docker engine service ('docker'). Shared by the
# engine_*.ps1 scripts, containers_delete_data.ps1 and health.ps1. Include after Common.
# Statuses and start types are enum names, never localised text; a missing service is a
# status (installed = false), not an error.

function New-DdpermEngineError {
    # An ErrorRecord whose FullyQualifiedErrorId is exactly $Id (thrown with 'throw').
    param([string]$Id, [string]$Message, [string]$Category, [System.Exception]$Exception)
    if ($null -eq $Exception) { $Exception = New-Object System.InvalidOperationException $Message }
    return New-Object System.Management.Automation.ErrorRecord @(
        $Exception, $Id, [System.Management.Automation.ErrorCategory]$Category, 'docker')
}

function Get-DdpermEngineService {
    # The 'docker' ServiceController, or $null when no such service exists. Get-Service -Name
    # also matches display names, so the exact service name is checked.
    try {
        $found = @(Microsoft.PowerShell.Management\Get-Service -Name 'docker' -ErrorAction Stop)
    } catch [Microsoft.PowerShell.Commands.ServiceCommandException] {
        if ($_.FullyQualifiedErrorId -like 'NoServiceFoundForGivenName*') { return $null }
        throw
    }
    $exact = @($found | Where-Object { $_.ServiceName -eq 'docker' })
    if ($exact.Count -ne 1) { return $null }
    return $exact[0]
}

function ConvertTo-DdpermEngineStatus {
    # The EngineStatus document for a ServiceController (or $null: not installed).
    param([AllowNull()] $Service)
    if ($null -eq $Service) {
        return [ordered]@{ installed = $false; name = 'docker'; display_name = $null; status = $null; start_type = $null }
    }
    $Service.Refresh()
    return [ordered]@{
        installed    = $true
        name         = [string]$Service.ServiceName
        display_name = [string]$Service.DisplayName
        status       = [string]$Service.Status
        start_type   = [string]$Service.StartType
    }
}

function Get-DdpermEngineStatus {
    # The engine's status document, as engine_status.ps1 and health.ps1 report it.
    return (ConvertTo-DdpermEngineStatus (Get-DdpermEngineService))
}

function Wait-DdpermEngineStatus {
    # Waits until the service reaches $Status or $Deadline passes (DdpermServiceTimeout).
    param($Service, [string]$Status, [datetime]$Deadline)
    $left = $Deadline - (Get-Date)
    if ($left -lt [TimeSpan]::Zero) { $left = [TimeSpan]::Zero }
    try {
        $Service.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]$Status, $left)
    } catch [System.Management.Automation.MethodInvocationException] {
        if (-not ($_.Exception.InnerException -is [System.ServiceProcess.TimeoutException])) { throw }
        $Service.Refresh()
        $message = "The service 'docker' did not reach $Status before the deadline; it is $([string]$Service.Status)."
        throw (New-DdpermEngineError 'DdpermServiceTimeout' $message 'OperationTimeout' (New-Object System.TimeoutException $message))
    }
}
