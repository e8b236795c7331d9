#!/usr/bin/env pwsh
# Thin entry to the build driver (tools/Build), the PowerShell mirror of build.sh:
# ./build.ps1 <verb> [options]; ./build.ps1 help lists the verbs.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    Write-Error "build.ps1: the .NET SDK is required (dotnet not found on PATH); see README.md"
    exit 1
}
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

$tool = 'out/tools/Build.dll'
$stale = -not (Test-Path $tool)
if (-not $stale) {
    $stamp = (Get-Item $tool).LastWriteTimeUtc
    $inputs = @(Get-ChildItem -Recurse -File tools, kernel -Include *.cs, *.csproj, *.props) + @(Get-Item Directory.Build.props)
    $stale = [bool]($inputs | Where-Object { $_.LastWriteTimeUtc -gt $stamp } | Select-Object -First 1)
}
if ($stale) {
    $log = & dotnet build tools/Build/Build.csproj -c Release -o out/tools -nologo -v:q 2>&1
    if ($LASTEXITCODE -ne 0) {
        $log | Write-Host
        Write-Error "build.ps1: building the build driver (tools/Build) failed"
        exit 1
    }
}
& dotnet $tool @args
exit $LASTEXITCODE
