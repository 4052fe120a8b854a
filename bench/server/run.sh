#!/usr/bin/env bash
# Server benchmarks with wrk on 127.0.0.1 (see docs/benchmarks.md for the figures and how to read them):
#  (a) the Registry API list page /v0.1/servers?limit=30 and a detail /v0.1/servers/{name}/versions/latest over a
#      10,000-version registry (the 2025-12-18 snapshot replicated), at 64 connections, on SQLite and on PostgreSQL;
#  (b) nginx serving the same bytes as static files: the baseline;
#  (c) the signed policy bundle GET /api/v1/policy (developer token), 200 and 304 (If-None-Match), against nginx
#      serving the same bundle bytes as a static file with its own ETag (target: >= 50% of nginx's rate); then the
#      bundle in Brotli and gzip against nginx's brotli_static/gzip_static serving the same compressed bytes (target: >= nginx);
#  (d) two steward instances on one PostgreSQL: identical answers, then both loaded at once (combined rate).
# Usage: bench/server/run.sh [duration-seconds]   (default 15; STEWARD_BENCH_SQLITE_ONLY=1 stops after SQLite and nginx). Needs wrk, nginx, python3 and, for PostgreSQL, either
# STEWARD_BENCH_POSTGRES (a connection string whose user may create databases) or root with Debian's postgresql.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
duration=${1:-15}
connections=64
threads=2
fixtures=${STEWARD_FIXTURES:-$root/../shared/fixtures}
work=$(mktemp -d /tmp/steward-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${nginx_conf:-}" ] && nginx -c "$nginx_conf" -p "$work/nginx" -s stop 2>/dev/null || true
  [ -n "${pgbin:-}" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "bench: $*" >&2; }

for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk nginx >/dev/null; }
  command -v "$tool" >/dev/null || { say "$tool is missing (apt-get install -y wrk nginx)"; exit 1; }
done

say "building steward (Release)"
dotnet build -c Release src/Steward.Cli -v quiet -nologo >/dev/null
steward="$root/src/Steward.Cli/bin/Release/net10.0/steward.dll"
token="stw_bench-admin-token-0123456789abcdef"
# Instances on one database must seal the policy signing keys with the same key encryption key.
export STEWARD_KEY_ENCRYPTION_KEY=${STEWARD_KEY_ENCRYPTION_KEY:-$(python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The snapshot (2,794 versions) replicated to 10,000: copies get a suffixed name and a distinct remote URL.
python3 - "$fixtures/official-registry/registry-snapshot-2025-12-18.json" "$work/registry-10000.json" <<'EOF'
import json, sys
items = json.load(open(sys.argv[1], encoding="utf-8-sig"))
out = []
copy = 0
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
EOF

# start_server <name> <extra args…>: starts steward serve on a free port, waits for /readyz, sets $origin.
start_server() {
  local name=$1; shift
  local port; port=$(free_port)
  STEWARD_ADMIN_TOKEN=$token dotnet "$steward" serve --urls "http://127.0.0.1:$port" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  origin="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do
    curl -fsS "$origin/readyz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  say "$name did not start:"; cat "$work/$name.err" >&2; exit 1
}

import_registry() {
  local report
  report=$(curl -sS --max-time 600 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary @"$work/registry-10000.json" "$1/api/v1/orgs/demo/registry/import")
  echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("bench: imported", r.get("created"), "created,", len(r.get("skipped",[])), "skipped (invalid by Core, listed in the report)", file=sys.stderr)'
}

# run_wrk <label> <url> [wrk args…]: one wrk run; prints requests/s and the latency percentiles.
run_wrk() {
  local label=$1 url=$2; shift 2
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$@" "$url" >"$work/wrk.txt" 2>&1
  python3 - "$label" "$work/wrk.txt" <<'EOF'
import re, sys
label, text = sys.argv[1], open(sys.argv[2]).read()
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
print(f"{label:<44} {float(rate):>10.0f} req/s   p50 {pct.get('50')}   p99 {pct.get('99')}"
      + (f"   non-2xx {errors.group(1)}" if errors else "") + (f"   socket errors: {sock.group(1)}" if sock else ""))
EOF
}

list_path="/v0.1/servers?limit=30"
detail_path=""
bench_registry() {
  local label=$1 origin=$2
  if [ -z "$detail_path" ]; then
    local name; name=$(curl -fsS "$origin/v0.1/servers?limit=1&cursor=io.github" | python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["servers"][0]["server"]["name"], safe=""))')
    detail_path="/v0.1/servers/$name/versions/latest"
  fi
  curl -fsS "$origin$list_path" >/dev/null && curl -fsS "$origin$detail_path" >/dev/null
  run_wrk "$label list $list_path" "$origin$list_path"
  run_wrk "$label detail" "$origin$detail_path"
}

# wrk_headers <file> <header lines…>: a wrk Lua script that sends the given headers ("Name: value") on every request.
wrk_headers() {
  local file=$1; shift
  : >"$file"
  for h in "$@"; do
    python3 -c 'import json,sys; n,v=sys.argv[1].split(": ",1); print("wrk.headers[%s] = %s" % (json.dumps(n), json.dumps(v)))' "$h" >>"$file"
  done
}

# bench_policy <label> <origin>: GET /api/v1/policy with a developer token, 200 (no If-None-Match) and 304 (If-None-Match
# with the bundle's ETag), against nginx serving the same signed bundle bytes as a static file (ETag and 304 natively).
# Needs the nginx of the registry section running ($nginx_port, $work/nginx/www). Target: >= 50% of nginx's rate.
bench_policy() {
  local label=$1 origin=$2
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"slug":"bench","name":"Bench"}' "$origin/api/v1/orgs/demo/accounts" >/dev/null || true
  local developer
  developer=$(curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench","role":"developer","account":"bench","expiresInDays":1}' "$origin/api/v1/orgs/demo/tokens" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -fsS -D "$work/policy.headers" -H "Authorization: Bearer $developer" "$origin/api/v1/policy" >"$work/nginx/www/policy.jws"
  local etag; etag=$(tr -d '\r' <"$work/policy.headers" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  local nginx_etag; nginx_etag=$(curl -fsSI "http://127.0.0.1:$nginx_port/policy.jws" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  local code s304 n304
  s304=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $developer" -H "If-None-Match: $etag" "$origin/api/v1/policy")
  n304=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $nginx_etag" "http://127.0.0.1:$nginx_port/policy.jws")
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/policy.jws")
  [ "$s304" = 304 ] && [ "$n304" = 304 ] && [ "$code" = 200 ] || { say "policy: expected 304/304/200, got steward $s304, nginx $n304/$code"; exit 1; }
  cmp -s <(curl -fsS "http://127.0.0.1:$nginx_port/policy.jws") "$work/nginx/www/policy.jws" || { say "policy: nginx does not serve the same bytes"; exit 1; }
  wrk_headers "$work/policy-200.lua" "Authorization: Bearer $developer"
  wrk_headers "$work/policy-304.lua" "Authorization: Bearer $developer" "If-None-Match: $etag"
  wrk_headers "$work/nginx-304.lua" "If-None-Match: $nginx_etag"
  echo "-- policy bundle ($(wc -c <"$work/nginx/www/policy.jws") bytes, ETag $etag), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  local out="$work/policy-rates.txt"; : >"$out"
  { run_wrk "$label policy 200" "$origin/api/v1/policy" -s "$work/policy-200.lua"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
  { run_wrk "nginx static policy.jws 200" "http://127.0.0.1:$nginx_port/policy.jws"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
  { run_wrk "$label policy 304 (If-None-Match)" "$origin/api/v1/policy" -s "$work/policy-304.lua"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
  { run_wrk "nginx static policy.jws 304 (If-None-Match)" "http://127.0.0.1:$nginx_port/policy.jws" -s "$work/nginx-304.lua"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
  python3 - "$out" <<'EOF'
import re, sys
rates = [float(m) for m in re.findall(r"(\d+) req/s", open(sys.argv[1]).read())]
print(f"ratio to nginx: 200 {rates[0] / rates[1]:.0%}   304 {rates[2] / rates[3]:.0%}   (target >= 50%)")
EOF
  bench_policy_compressed "$label" "$origin" "$developer"
}

# bench_policy_compressed <label> <origin> <developer token>: the bundle in Brotli and in gzip (Accept-Encoding), against
# nginx serving the very same compressed bytes (brotli_static, gzip_static). Target: 200 rate >= nginx's.
bench_policy_compressed() {
  local label=$1 origin=$2 developer=$3 coding file size
  local out="$work/policy-compressed.txt"; : >"$out"
  local plain; plain=$(wc -c <"$work/nginx/www/policy.jws")
  for coding in br gzip; do
    file="$work/nginx/www/policy.jws.$([ "$coding" = gzip ] && echo gz || echo br)"
    curl -fsS -H "Authorization: Bearer $developer" -H "Accept-Encoding: $coding" -D "$work/policy-$coding.headers" "$origin/api/v1/policy" >"$file"
    tr -d '\r' <"$work/policy-$coding.headers" | grep -qi "^content-encoding: $coding" || { say "policy: steward did not answer $coding"; exit 1; }
    if [ "$coding" = br ] && [ "$nginx_brotli" != 1 ]; then
      say "nginx has no brotli_static module (apt-get install libnginx-mod-http-brotli-static): br measured on steward only"
    elif ! cmp -s <(curl -fsS -H "Accept-Encoding: $coding" "http://127.0.0.1:$nginx_port/policy.jws") "$file"; then
      say "policy: nginx does not serve the same $coding bytes"; exit 1
    fi
    size=$(wc -c <"$file")
    echo "-- policy bundle in $coding: $size bytes ($(python3 -c "print(f'{$size/$plain:.1%}')") of $plain)"
    wrk_headers "$work/policy-$coding.lua" "Authorization: Bearer $developer" "Accept-Encoding: $coding"
    wrk_headers "$work/nginx-$coding.lua" "Accept-Encoding: $coding"
    { run_wrk "$label policy 200 $coding" "$origin/api/v1/policy" -s "$work/policy-$coding.lua"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
    { run_wrk "nginx ${coding}_static policy.jws 200" "http://127.0.0.1:$nginx_port/policy.jws" -s "$work/nginx-$coding.lua"; echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee -a "$out"
  done
  python3 - "$out" <<'EOF'
import re, sys
rates = [float(m) for m in re.findall(r"(\d+) req/s", open(sys.argv[1]).read())]
print(f"ratio to nginx (same compressed bytes): 200 br {rates[0] / rates[1]:.0%}   200 gzip {rates[2] / rates[3]:.0%}   (target >= 100%)")
EOF
}

echo "== steward on SQLite (10,000 versions; $connections connections, ${duration}s each) =="
start_server sqlite --data-dir "$work/sqlite"
sqlite_origin=$origin
import_registry "$sqlite_origin"
bench_registry "sqlite" "$sqlite_origin"

echo "== nginx serving the same bytes as static files =="
mkdir -p "$work/nginx/logs" "$work/nginx/www"
chmod 755 "$work" "$work/nginx" "$work/nginx/www"   # nginx workers run as an unprivileged user
curl -fsS "$sqlite_origin$list_path" >"$work/nginx/www/list.json"
curl -fsS "$sqlite_origin$detail_path" >"$work/nginx/www/detail.json"
nginx_port=$(free_port)
nginx_conf="$work/nginx/nginx.conf"
nginx_brotli=0
brotli_module=/usr/lib/nginx/modules/ngx_http_brotli_static_module.so
[ -f "$brotli_module" ] && nginx_brotli=1
cat >"$nginx_conf" <<EOF
$([ "$nginx_brotli" = 1 ] && echo "load_module $brotli_module;")
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$nginx_port;
    default_type application/json;
    location = /list.json { root $work/nginx/www; etag on; }
    location = /detail.json { root $work/nginx/www; etag on; }
    location = /policy.jws { root $work/nginx/www; etag on; default_type application/jose; gzip_static on; $([ "$nginx_brotli" = 1 ] && echo "brotli_static on;") }
  }
}
EOF
nginx -c "$nginx_conf" -p "$work/nginx"
run_wrk "nginx static list ($(wc -c <"$work/nginx/www/list.json") bytes)" "http://127.0.0.1:$nginx_port/list.json"
run_wrk "nginx static detail ($(wc -c <"$work/nginx/www/detail.json") bytes)" "http://127.0.0.1:$nginx_port/detail.json"
bench_policy "sqlite" "$sqlite_origin"
kill "${pids[0]}" 2>/dev/null || true
[ -n "${STEWARD_BENCH_SQLITE_ONLY:-}" ] && { say "STEWARD_BENCH_SQLITE_ONLY: PostgreSQL skipped"; exit 0; }

echo "== steward on PostgreSQL =="
if [ -z "${STEWARD_BENCH_POSTGRES:-}" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ] || [ "$(id -u)" != 0 ]; then
    say "no PostgreSQL (set STEWARD_BENCH_POSTGRES, or run as root with Debian's postgresql): skipped"; exit 0
  fi
  mkdir -p "$work/pg"; chown postgres "$work/pg"
  pg_port=$(free_port)
  runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  runuser -u postgres -- "$pgbin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE ROLE steward LOGIN CREATEDB PASSWORD 'steward'" >/dev/null
  STEWARD_BENCH_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=steward;Password=steward;Database=postgres"
fi
db="steward_bench_$$"
python3 - "$STEWARD_BENCH_POSTGRES" "$db" <<'EOF' || { say "cannot create the database (psql missing?)"; exit 1; }
import subprocess, sys
parts = dict(p.split("=", 1) for p in sys.argv[1].split(";") if "=" in p)
env = {"PGPASSWORD": parts.get("Password", "")}
subprocess.run(["psql", "-q", "-h", parts.get("Host", "127.0.0.1"), "-p", parts.get("Port", "5432"), "-U", parts.get("Username", "postgres"),
                "-d", parts.get("Database", "postgres"), "-c", f"CREATE DATABASE {sys.argv[2]}"], check=True, env=env)
EOF
connection=$(python3 -c 'import sys; parts=[p for p in sys.argv[1].split(";") if p and not p.lower().startswith("database=")]; print(";".join(parts+["Database="+sys.argv[2]]))' "$STEWARD_BENCH_POSTGRES" "$db")
start_server pg1 --data-dir "$work/pg1" --database "$connection"
pg1=$origin
import_registry "$pg1"
bench_registry "postgresql" "$pg1"
bench_policy "postgresql" "$pg1"

echo "== two instances on one PostgreSQL =="
start_server pg2 --data-dir "$work/pg2" --database "$connection"
pg2=$origin
for path in "$list_path" "$detail_path" "/v0.1/servers?limit=100&search=github"; do
  a=$(curl -fsSi "$pg1$path" | tr -d '\r' | grep -iE '^(etag|content-length):' | sort; curl -fsS "$pg1$path" | sha256sum)
  b=$(curl -fsSi "$pg2$path" | tr -d '\r' | grep -iE '^(etag|content-length):' | sort; curl -fsS "$pg2$path" | sha256sum)
  [ "$a" = "$b" ] && echo "identical on both instances (body and ETag): $path" || { echo "DIFFERENT: $path"; exit 1; }
done
connections=32
wrk -t1 -c32 -d"${duration}s" --latency "$pg1$list_path" >"$work/wrk1.txt" 2>&1 &
w1=$!
wrk -t1 -c32 -d"${duration}s" --latency "$pg2$list_path" >"$work/wrk2.txt" 2>&1
wait $w1
python3 - "$work/wrk1.txt" "$work/wrk2.txt" <<'EOF'
import re, sys
total = 0
for i, path in enumerate(sys.argv[1:], 1):
    text = open(path).read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
    total += rate
    print(f"instance {i} list (32 connections)                {rate:>10.0f} req/s   p50 {pct.get('50')}   p99 {pct.get('99')}")
print(f"two instances combined (64 connections)          {total:>10.0f} req/s")
EOF
