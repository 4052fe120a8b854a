#!/usr/bin/env bash
# Gateway benchmarks: tool-call latency (direct stdio vs steward gateway vs supergateway), gateway memory with five
# upstreams, and cold start of `steward --version` and `steward mcp list`, all against the ReadyToRun publish that
# ./steward produces in artifacts/steward. Needs `npm ci --prefix tests/node` (and hyperfine for cold start).
# Usage: bench/gateway.sh [iterations] [rounds] [baseline steward executable]
# BENCH_WARMUP: warm-up calls per variant before the timed ones (3000 by default; 400 was the earlier runs' setting).
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-2000}
rounds=${2:-3}
baseline=${3:-}
./steward --version >/dev/null
steward="$PWD/artifacts/steward/steward"
dotnet build -c Release bench/Steward.GatewayBench -v q -nologo >/dev/null
dotnet bench/Steward.GatewayBench/bin/Release/net10.0/Steward.GatewayBench.dll "$PWD" "$steward" "$iterations" "$rounds" $baseline

export STEWARD_CONFIG_DIR=$(mktemp -d)
if command -v hyperfine >/dev/null 2>&1; then
  if [ -n "$baseline" ]; then
    hyperfine -N --warmup 3 --runs 30 "$baseline --version" "$steward --version" "$baseline mcp list" "$steward mcp list"
  else
    hyperfine -N --warmup 3 --runs 30 "$steward --version" "$steward mcp list"
  fi
else
  for cmd in "--version" "mcp list"; do
    start=$(date +%s%N); for _ in $(seq 20); do $steward $cmd >/dev/null 2>&1 || true; done; end=$(date +%s%N)
    echo "steward $cmd: mean $(( (end - start) / 20000000 )) ms over 20 runs (loop; hyperfine not installed)"
  done
fi
