# ddperm-kind: read
# Reports whether the docker-users local group exists, its SID, and for each named account
# whether it is a member.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^(?:(?![. ])[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,63}(?<![. ])\\)?(?! )[^"/\\\[\]:;|=,+*?<>@\x00-\x1F\x7F-\x9F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uD800-\uDFFF]{1,20}(?<![. ])\z')]
    [string[]]$Member
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# ddperm:include Common
# ddperm:include Setup

Write-DdpermResult (Get-DdpermDockerUsers -Member $Member)
