# ddperm checks library: the Hyper-V, bootloader and Windows-features checks, shared by the
# single-check scripts and health.ps1. Every decision reads typed values (enum names, BCD
# integers, FullyQualifiedErrorIds), never display text, so no Windows language changes it.

function New-DdpermCheckError {
    # An ErrorRecord with a stable FullyQualifiedErrorId, for failures ddperm itself detects.
    param(
        [Parameter(Mandatory = $true)] [string]$Message,
        [Parameter(Mandatory = $true)] [string]$ErrorId,
        [Parameter(Mandatory = $true)] [System.Management.Automation.ErrorCategory]$Category
    )
    $exception = Microsoft.PowerShell.Utility\New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    Microsoft.PowerShell.Utility\New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList $exception, $ErrorId, $Category, $null
}

function ConvertTo-DdpermCheckError {
    # One failed check as data: its error id, category, exception type and HRESULT decide
    # the fix; the (possibly localised) message is only shown.
    param([Parameter(Mandatory = $true)] [System.Management.Automation.ErrorRecord]$Record)
    [ordered]@{
        error_id       = [string]$Record.FullyQualifiedErrorId
        category       = [string]$Record.CategoryInfo.Category
        exception_type = $Record.Exception.GetType().FullName
        hresult        = [int]$Record.Exception.HResult
        message        = [string]$Record.Exception.Message
    }
}

function New-DdpermCheckOutcome {
    # One check's entry in the health report: its result, or its error in place of it, so
    # one failing check never stops the others (health.ps1 wraps each check in try/catch).
    param(
        [AllowNull()] $Result = $null,
        [AllowNull()] [System.Management.Automation.ErrorRecord]$Failure = $null
    )
    $checkError = $null
    if ($null -ne $Failure) { $checkError = ConvertTo-DdpermCheckError -Record $Failure }
    [ordered]@{ result = $Result; error = $checkError }
}

function Get-DdpermFeatureStates {
    # The DISM state name of each requested optional feature, 'Absent' when this edition of
    # Windows has no such feature. All features are listed once and matched exactly (the
    # hashtable is case-insensitive, like DISM), so no name is ever used as a wildcard.
    param([Parameter(Mandatory = $true)] [string[]]$Name)
    $known = @{}
    foreach ($feature in @(Dism\Get-WindowsOptionalFeature -Online)) {
        $known[[string]$feature.FeatureName] = [string]$feature.State
    }
    $states = Microsoft.PowerShell.Utility\New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($wanted in $Name) {
        $state = 'Absent'
        if ($known.ContainsKey($wanted)) { $state = $known[$wanted] }
        $states.Add([ordered]@{ name = $wanted; state = $state })
    }
    return , $states.ToArray()
}

function Test-DdpermRestartPending {
    # Component Based Servicing keeps this key while a feature change waits for a restart.
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending')
    if ($null -eq $key) { return $false }
    $key.Close()
    return $true
}

function Get-DdpermHyperVStatus {
    # Hyper-V feature state, whether the hypervisor is running and the VMMS service status.
    # HypervisorPresent and Get-Service need no elevation; DISM does, so a caller that is not
    # elevated still gets the first two and the DISM error in place of the feature state.
    $featureState = $null
    $featureError = $null
    try {
        $featureState = (Get-DdpermFeatureStates -Name @('Microsoft-Hyper-V'))[0].state
    } catch {
        $featureError = ConvertTo-DdpermCheckError -Record $_
    }
    $computer = CimCmdlets\Get-CimInstance -ClassName Win32_ComputerSystem
    $vmms = $null
    try {
        $vmms = [string](Microsoft.PowerShell.Management\Get-Service -Name 'vmms').Status
    } catch {
        if (-not ([string]$_.FullyQualifiedErrorId).StartsWith('NoServiceFoundForGivenName,')) { throw }
    }
    [ordered]@{
        feature_state      = $featureState
        feature_error      = $featureError
        hypervisor_present = [bool]$computer.HypervisorPresent
        vmms_status        = $vmms
    }
}

function Get-DdpermBootloaderStatus {
    # hypervisorlaunchtype of the running OS's loader ({current}) through the BCD WMI provider:
    # element 0x250000F0 holds 0 (Off) or 1 (Auto); no element means it was never set.
    # The provider needs elevation, and may tell a caller without it no more than OpenStore's
    # ReturnValue False: elevation is checked first, so the cause is named either way.
    if (-not (Test-DdpermElevated)) {
        throw (New-DdpermCheckError -Message 'Reading the boot configuration (BCD) needs an elevated session: run ddperm as an administrator.' -ErrorId 'DdpermElevationRequired' -Category PermissionDenied)
    }
    $current = '{fa926493-6f1c-4193-a414-58f0b2456d1e}'
    $store = CimCmdlets\Invoke-CimMethod -Namespace 'root\WMI' -ClassName 'BcdStore' -MethodName 'OpenStore' -Arguments @{ File = '' }
    if (-not $store.ReturnValue) {
        throw (New-DdpermCheckError -Message 'The system BCD store could not be opened.' -ErrorId 'DdpermBcdStoreUnavailable' -Category ResourceUnavailable)
    }
    $loader = CimCmdlets\Invoke-CimMethod -InputObject $store.Store -MethodName 'OpenObject' -Arguments @{ Id = $current }
    if (-not $loader.ReturnValue) {
        throw (New-DdpermCheckError -Message 'The BCD entry {current} could not be opened.' -ErrorId 'DdpermBcdObjectUnavailable' -Category ObjectNotFound)
    }
    # Ask which elements exist first: a never-set hypervisorlaunchtype is then simply absent,
    # not an error whose code would have to be interpreted.
    $types = CimCmdlets\Invoke-CimMethod -InputObject $loader.Object -MethodName 'EnumerateElementTypes'
    if (-not $types.ReturnValue) {
        throw (New-DdpermCheckError -Message 'The BCD entry {current} could not be enumerated.' -ErrorId 'DdpermBcdObjectUnavailable' -Category ReadError)
    }
    $raw = $null
    $launchType = 'NotSet'
    if (@($types.Types) -contains [uint32]0x250000F0) {
        $element = CimCmdlets\Invoke-CimMethod -InputObject $loader.Object -MethodName 'GetElement' -Arguments @{ Type = [uint32]0x250000F0 }
        if (-not $element.ReturnValue) {
            throw (New-DdpermCheckError -Message 'The BCD element hypervisorlaunchtype could not be read.' -ErrorId 'DdpermBcdElementUnreadable' -Category ReadError)
        }
        $raw = [int64]$element.Element.Integer
        $launchType = 'Other'
        if ($raw -eq 0) { $launchType = 'Off' }
        if ($raw -eq 1) { $launchType = 'Auto' }
    }
    [ordered]@{ launch_type = $launchType; raw_value = $raw }
}

function Get-DdpermFeaturesReport {
    # Each requested feature's state, and whether Windows waits for a restart to finish a
    # feature change (the servicing key, or any requested feature still pending).
    param([Parameter(Mandatory = $true)] [string[]]$Name)
    $states = Get-DdpermFeatureStates -Name $Name
    $pending = [bool](Test-DdpermRestartPending)
    foreach ($entry in $states) {
        if ($entry.state -eq 'EnablePending' -or $entry.state -eq 'DisablePending') { $pending = $true }
    }
    [ordered]@{ features = (ConvertTo-DdpermList $states); restart_pending = $pending }
}

function Test-DdpermElevated {
    # Whether this session is elevated: its token holds the Administrators SID (S-1-5-32-544).
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList $identity
    $admins = Microsoft.PowerShell.Utility\New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'
    return [bool]$principal.IsInRole($admins)
}

function Get-DdpermBootState {
    # When Windows last started, whether a feature change waits for a restart, and whether
    # this session is elevated.
    $os = CimCmdlets\Get-CimInstance -ClassName Win32_OperatingSystem
    [ordered]@{
        last_boot       = ([datetime]$os.LastBootUpTime).ToUniversalTime().ToString('o')
        restart_pending = [bool](Test-DdpermRestartPending)
        elevated        = (Test-DdpermElevated)
    }
}
