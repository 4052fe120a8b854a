#!/usr/bin/env bash
# Sandbox cost: start-up time and per-call latency of server-everything run directly, inside bubblewrap (network none),
# and inside bubblewrap with the filtering proxy's bridge (network loopback), side by side in interleaved rounds.
# Needs bubblewrap and `npm ci --prefix tests/node`. Usage: bench/sandbox.sh [starts per round] [calls per round] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release src/Steward.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Steward.SandboxBench -v q -nologo >/dev/null
dotnet bench/Steward.SandboxBench/bin/Release/net10.0/Steward.SandboxBench.dll "$PWD" "$PWD/src/Steward.Cli/bin/Release/net10.0/steward.dll" "${1:-10}" "${2:-2000}" "${3:-3}"
