# ddperm local wrapper: the fixed command powershell.exe runs (-EncodedCommand); see local.py.
# Reads one JSON request per line on stdin, {"script": text, "parameters": {...}}, runs the
# script text with the parameters splatted and writes one ASCII JSON frame per request on
# stdout: {"output": text} or {"error": {...}}. Runs until stdin ends. Under PowerShell 7 the
# request is read with System.Text.Json: pwsh's ConvertFrom-Json (Json.NET) would turn an
# ISO-8601 string into a [datetime], which a [string] parameter then gets as other text.
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

function ConvertFrom-DdpermJsonElement {
    # One System.Text.Json value the way ConvertFrom-Json gives it (lib/Policy.ps1 has the
    # same reader; this fixed command cannot include the script libraries).
    param([Parameter(Mandatory = $true)] $Element)
    switch ([string]$Element.ValueKind) {
        'Object' {
            $members = [ordered]@{}
            foreach ($member in $Element.EnumerateObject()) {
                $members[$member.Name] = ConvertFrom-DdpermJsonElement -Element $member.Value
            }
            return [pscustomobject]$members
        }
        'Array' {
            $items = New-Object System.Collections.Generic.List[object]
            foreach ($item in $Element.EnumerateArray()) {
                $items.Add((ConvertFrom-DdpermJsonElement -Element $item))
            }
            return , $items.ToArray()
        }
        'String' { return $Element.GetString() }
        'Number' {
            $integer = [int64]0
            if ($Element.TryGetInt64([ref]$integer)) { return $integer }
            return $Element.GetDouble()
        }
        'True' { return $true }
        'False' { return $false }
    }
    return $null
}

while ($null -ne ($line = [Console]::In.ReadLine())) {
    if ($PSVersionTable.PSEdition -eq 'Core') {
        $document = [System.Text.Json.JsonDocument]::Parse($line)
        try {
            $request = ConvertFrom-DdpermJsonElement -Element $document.RootElement
        } finally {
            $document.Dispose()
        }
    } else {
        $request = Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $line
    }
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
