# ddperm local wrapper: the fixed command powershell.exe runs (-EncodedCommand); see local.py.
# Reads one JSON request per line on stdin, {"script": text, "parameters": {...}}, runs the
# script text with the parameters splatted and writes one ASCII JSON frame per request on
# stdout: {"output": text} or {"error": {...}}. Runs until stdin ends.
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try {
    $utf8 = New-Object System.Text.UTF8Encoding $false
    [Console]::InputEncoding = $utf8
    [Console]::OutputEncoding = $utf8
} catch {
    $null = $_  # no console to configure; requests and frames are ASCII either way
}

function Write-DdpermFrame {
    param([Parameter(Mandatory = $true)] $Frame)
    $json = Microsoft.PowerShell.Utility\ConvertTo-Json -InputObject $Frame -Depth 3 -Compress
    $ascii = [regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
    [Console]::Out.WriteLine($ascii)
    [Console]::Out.Flush()
}

while ($null -ne ($line = [Console]::In.ReadLine())) {
    $request = Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $line
    $parameters = @{}
    foreach ($property in $request.parameters.PSObject.Properties) {
        $parameters[$property.Name] = $property.Value
    }
    try {
        $block = [scriptblock]::Create($request.script)
        $output = @(& $block @parameters | Microsoft.PowerShell.Core\ForEach-Object { [string]$_ })
        $frame = [ordered]@{ output = $output -join "`n" }
    } catch {
        $record = $_
        $frame = [ordered]@{ error = [ordered]@{
            message                  = $record.Exception.Message
            fully_qualified_error_id = $record.FullyQualifiedErrorId
            category                 = [string]$record.CategoryInfo.Category
            target                   = [string]$record.CategoryInfo.TargetName
            exception_type           = $record.Exception.GetType().FullName
        } }
    }
    Write-DdpermFrame $frame
}
