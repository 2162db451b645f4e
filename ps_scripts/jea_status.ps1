# ddperm-kind: read
# Reports ddperm's JEA endpoint: the module's files and their hashes, the catalog check, every
# ACL problem on the module, the transcript folder, and the registered 'ddperm' configuration.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Paths
# ddperm:include Setup
# ddperm:include Jea

$root = Get-DdpermJeaModuleRoot
$installed = [System.IO.Directory]::Exists($root)
$files = @()
$catalog = 'Missing'
$problems = @()
if ($installed) {
    $files = Get-DdpermJeaFiles -Root $root
    $catalog = Get-DdpermJeaCatalogStatus -Root $root
    $problems = Get-DdpermJeaAclProblems -Root $root
}
$transcripts = [System.IO.Path]::Combine((Get-DdpermJeaDataFolder), 'transcripts')
$transcriptProblem = $null
if ([System.IO.Directory]::Exists($transcripts)) {
    $transcriptProblem = Get-DdpermFolderAclProblem -Folder $transcripts -Rights $DdpermAnyRights
}
Write-DdpermResult ([ordered]@{
    installed              = $installed
    module_path            = $root
    files                  = (ConvertTo-DdpermList $files)
    catalog                = $catalog
    acl_problems           = (ConvertTo-DdpermList $problems)
    transcript_directory   = $transcripts
    transcript_acl_problem = $transcriptProblem
    configuration          = (Get-DdpermJeaConfiguration)
})
