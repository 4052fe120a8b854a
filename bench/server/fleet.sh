#!/usr/bin/env bash
# A fleet of simulated developers syncing from one `steward serve` over a 10,000-version registry (docs/benchmarks.md):
# each with its own developer token, a mix of 200 (Brotli) and 304 answers, on SQLite and then on PostgreSQL; the
# server's CPU time and memory. Usage: bench/server/fleet.sh [developers] [extra Steward.FleetBench options…]
# (default 10000; e.g. `bench/server/fleet.sh 10000 --paced --window-seconds 600`). PostgreSQL needs
# STEWARD_BENCH_POSTGRES, a connection string whose user may create databases (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
developers=${1:-10000}
shift || true
fixtures=${STEWARD_FIXTURES:-$root/../shared/fixtures}
work=$(mktemp -d /tmp/steward-fleet.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
say() { echo "fleet: $*" >&2; }

say "building steward and the fleet harness (Release)"
dotnet build -c Release src/Steward.Cli -v quiet -nologo >/dev/null
dotnet build -c Release bench/Steward.FleetBench -v quiet -nologo >/dev/null
steward="$root/src/Steward.Cli/bin/Release/net10.0/steward.dll"
harness="$root/bench/Steward.FleetBench/bin/Release/net10.0/Steward.FleetBench.dll"
token="stw_fleet-admin-token-0123456789abcdef"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The same 10,000-version registry as bench/server/run.sh: the 2025-12-18 snapshot replicated.
python3 - "$fixtures/official-registry/registry-snapshot-2025-12-18.json" "$work/registry-10000.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1], encoding="utf-8-sig"))
out, copy = [], 0
while len(out) < 10000:
    for item in items:
        if len(out) == 10000:
            break
        item = json.loads(json.dumps(item))
        if copy:
            s = item["server"]
            s["name"] = s["name"] + "-r" + str(copy)
            for r in s.get("remotes", []):
                r["url"] = r["url"].rstrip("/") + "/r" + str(copy)
        out.append(item)
    copy += 1
json.dump(out, open(sys.argv[2], "w"))
PY

run_fleet() {
  local name=$1; shift
  local port; port=$(free_port)
  STEWARD_ADMIN_TOKEN=$token dotnet "$steward" serve --urls "http://127.0.0.1:$port" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$!
  pids+=("$pid")
  local origin="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do curl -fsS "$origin/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$origin/readyz" >/dev/null || { say "$name did not start"; cat "$work/$name.err" >&2; exit 1; }
  curl -sS --max-time 900 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary @"$work/registry-10000.json" "$origin/api/v1/orgs/demo/registry/import" >/dev/null
  echo "== $name: $developers developers, load average $(cut -d' ' -f1-3 /proc/loadavg) =="
  dotnet "$harness" "$origin" "$token" "$pid" --developers "$developers" "${extra[@]}"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$pid" 2>/dev/null || true
}

extra=("$@")
run_fleet sqlite --data-dir "$work/sqlite"
if [ -n "${STEWARD_BENCH_POSTGRES:-}" ]; then
  db="steward_fleet_$$"
  python3 - "$STEWARD_BENCH_POSTGRES" "$db" <<'PY'
import subprocess, sys
parts = dict(p.split("=", 1) for p in sys.argv[1].split(";") if "=" in p)
subprocess.run(["psql", "-q", "-h", parts.get("Host", "127.0.0.1"), "-p", parts.get("Port", "5432"), "-U", parts.get("Username", "postgres"),
                "-d", parts.get("Database", "postgres"), "-c", f"CREATE DATABASE {sys.argv[2]}"], check=True, env={"PGPASSWORD": parts.get("Password", "")})
PY
  connection=$(python3 -c 'import sys; parts=[p for p in sys.argv[1].split(";") if p and not p.lower().startswith("database=")]; print(";".join(parts+["Database="+sys.argv[2]]))' "$STEWARD_BENCH_POSTGRES" "$db")
  STEWARD_KEY_ENCRYPTION_KEY=${STEWARD_KEY_ENCRYPTION_KEY:-$(python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')} \
    run_fleet postgresql --data-dir "$work/pg" --database "$connection"
else
  say "STEWARD_BENCH_POSTGRES is not set: PostgreSQL skipped"
fi
