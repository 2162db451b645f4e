# ddperm common library: included into every script at its '# ddperm:include Common' line.

function Write-DdpermResult {
    # Writes the script's one JSON document. Depth is explicit so nested objects never
    # degrade into type-name strings; -Compress keeps it one line.
    param([Parameter(Mandatory = $true)] [AllowNull()] $InputObject)
    Microsoft.PowerShell.Utility\ConvertTo-Json -InputObject $InputObject -Depth 8 -Compress
}

function ConvertTo-DdpermList {
    # Always an array, even for zero or one item (Windows PowerShell 5.1 unrolls them).
    param([AllowNull()] $Items)
    if ($null -eq $Items) { return , @() }
    return , @($Items)
}
