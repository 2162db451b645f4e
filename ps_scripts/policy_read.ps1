# ddperm-kind: read
# Returns the cached Registry Access Management policy, or fails closed if it is missing or not trusted.
[CmdletBinding()]
param()
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Policy

$state = Read-DdpermPolicyCache
if ($null -ne $state.problem) {
    throw (New-DdpermPolicyProblem -Id $state.problem)
}
Write-DdpermResult ([ordered]@{
    path               = $DdpermPolicyFile
    organization       = $state.policy.organization
    allowed_registries = ConvertTo-DdpermList $state.policy.allowed_registries
    fetched_at         = $state.policy.fetched_at
    sha256             = $state.sha256
})
