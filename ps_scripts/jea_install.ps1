# ddperm-kind: destructive
# Installs ddperm's JEA endpoint: writes the generated Ddperm module (its files passed as data)
# to $env:ProgramFiles\WindowsPowerShell\Modules\Ddperm with an admin-only ACL, pins it with a
# file catalog, creates each role's local group (adding the members named), and registers the
# RestrictedRemoteServer session configuration 'ddperm' (NoLanguage, a virtual account,
# transcripts). Register-PSSessionConfiguration restarts WinRM, which ends this very session:
# the caller reconnects and checks the result with jea_status. Not retried (kind destructive).
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 4194304)]
    [string]$ModuleManifest,
    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 4194304)]
    [string]$ModuleScript,
    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 65536)]
    [string]$AuditorRole,
    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 65536)]
    [string]$OperatorRole,
    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 65536)]
    [string]$AdministratorRole,
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string]$AuditorGroup,
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string]$OperatorGroup,
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string]$AdministratorGroup,
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string[]]$AuditorMember = @(),
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string[]]$OperatorMember = @(),
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string[]]$AdministratorMember = @()
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include Setup
# ddperm:include Jea

$root = Get-DdpermJeaModuleRoot
$data = Get-DdpermJeaDataFolder
$transcripts = [System.IO.Path]::Combine($data, 'transcripts')
foreach ($folder in @($root, [System.IO.Path]::Combine($root, 'RoleCapabilities'), $data, $transcripts)) {
    $null = New-DdpermFolder -Path $folder -What 'JEA folder'
}
# Every file is written anew (so none keeps an ACL of its own), stale ones removed first.
foreach ($item in @(Microsoft.PowerShell.Management\Get-ChildItem -LiteralPath $root -Recurse -File -Force)) {
    [System.IO.File]::Delete($item.FullName)
}
$files = @{
    'Ddperm.psd1'                             = $ModuleManifest
    'Ddperm.psm1'                             = $ModuleScript
    'RoleCapabilities\DdpermAuditor.psrc'       = $AuditorRole
    'RoleCapabilities\DdpermOperator.psrc'      = $OperatorRole
    'RoleCapabilities\DdpermAdministrator.psrc' = $AdministratorRole
}
$utf8 = New-Object System.Text.UTF8Encoding $false
foreach ($name in $files.Keys) {
    [System.IO.File]::WriteAllText([System.IO.Path]::Combine($root, $name), $files[$name], $utf8)
}
$catalog = [System.IO.Path]::Combine($root, $DdpermJeaCatalogName)
$null = Microsoft.PowerShell.Security\New-FileCatalog -Path $root -CatalogFilePath $catalog -CatalogVersion 2.0

$roles = @{}
$roles[(Install-DdpermJeaGroup -Group $AuditorGroup -Member $AuditorMember)] = @{ RoleCapabilities = 'DdpermAuditor' }
$roles[(Install-DdpermJeaGroup -Group $OperatorGroup -Member $OperatorMember)] = @{ RoleCapabilities = 'DdpermOperator' }
$roles[(Install-DdpermJeaGroup -Group $AdministratorGroup -Member $AdministratorMember)] = @{ RoleCapabilities = 'DdpermAdministrator' }
$pssc = [System.IO.Path]::Combine($data, 'ddperm.pssc')
if ([System.IO.File]::Exists($pssc)) { [System.IO.File]::Delete($pssc) }
Microsoft.PowerShell.Core\New-PSSessionConfigurationFile -Path $pssc -SessionType RestrictedRemoteServer -LanguageMode NoLanguage -RunAsVirtualAccount -TranscriptDirectory $transcripts -RoleDefinitions $roles -Author 'ddperm' -Description 'ddperm JEA endpoint (ddperm jea install)'
if ($null -ne (Get-DdpermJeaConfiguration)) {
    $null = Microsoft.PowerShell.Core\Unregister-PSSessionConfiguration -Name $DdpermJeaConfigurationName -NoServiceRestart -Force
}
# This restarts WinRM (restart-service winrm -force): the connection usually drops here.
$null = Microsoft.PowerShell.Core\Register-PSSessionConfiguration -Name $DdpermJeaConfigurationName -Path $pssc -Force
Write-DdpermResult ([ordered]@{ registered = $true; module_path = $root; catalog = (Get-DdpermJeaCatalogStatus -Root $root) })
