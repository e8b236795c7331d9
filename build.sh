#!/usr/bin/env bash
# Thin entry to the build driver (tools/Build): ./build.sh <verb> [options]; ./build.sh help
# lists the verbs. It (re)builds the driver when its sources changed, then hands over.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
    echo "build.sh: the .NET SDK is required (dotnet not found on PATH); see README.md" >&2
    exit 1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

tool=out/tools/Build.dll
if [ ! -f "$tool" ] || [ -n "$(find tools kernel Directory.Build.props -newer "$tool" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -print -quit 2>/dev/null)" ]; then
    if ! log=$(dotnet build tools/Build/Build.csproj -c Release -o out/tools -nologo -v:q 2>&1); then
        echo "$log" >&2
        echo "build.sh: building the build driver (tools/Build) failed" >&2
        exit 1
    fi
fi
exec dotnet "$tool" "$@"
