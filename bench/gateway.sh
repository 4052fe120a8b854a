#!/usr/bin/env bash
# Gateway benchmarks: tool-call latency (direct stdio vs steward gateway vs supergateway), gateway memory with five
# upstreams, and cold start of `steward --version` and `steward mcp list`. Needs `npm ci --prefix tests/node`.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-5000}
dotnet build -c Release src/Steward.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Steward.GatewayBench -v q -nologo >/dev/null
dotnet bench/Steward.GatewayBench/bin/Release/net10.0/Steward.GatewayBench.dll "$PWD" "$PWD/src/Steward.Cli/bin/Release/net10.0/steward.dll" "$iterations"

steward=src/Steward.Cli/bin/Release/net10.0/steward
export STEWARD_CONFIG_DIR=$(mktemp -d)
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --warmup 3 --runs 30 "$steward --version" "$steward mcp list"
else
  for cmd in "--version" "mcp list"; do
    start=$(date +%s%N); for _ in $(seq 20); do $steward $cmd >/dev/null 2>&1 || true; done; end=$(date +%s%N)
    echo "steward $cmd: mean $(( (end - start) / 20000000 )) ms over 20 runs (loop; hyperfine not installed)"
  done
fi
