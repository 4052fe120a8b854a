#!/usr/bin/env bash
# Runs every test, after setting up what the tests need on this machine:
#  - PostgreSQL from Debian's package, started privately on 127.0.0.1 for the run (root only; elsewhere the
#    PostgreSQL tests skip and say why, unless CI=true, where they fail);
#  - the npm packages the end-to-end tests drive (real MCP servers and clients), from tests/node's lockfile;
#  - Debian's chromium, which the console's Playwright tests drive (root only; elsewhere they skip and say why);
#  - Debian's bubblewrap, inside which the sandbox tests run real MCP servers (root only; elsewhere they skip and say why).
# Extra arguments go to `dotnet test` (for example: ./test.sh --filter FullyQualifiedName~Registry).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { echo "test.sh: $*" >&2; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if [ -z "${apt_updated:-}" ]; then apt-get update -qq >&2 || true; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  else
    return 1
  fi
}

start_postgres() {
  if [ -n "${STEWARD_TEST_POSTGRES:-}" ]; then say "using STEWARD_TEST_POSTGRES from the environment"; return 0; fi
  pgbin=""
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ]; then
    apt_install postgresql || { say "PostgreSQL is not installed and cannot be (not root): its tests will skip"; return 0; }
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  if [ "$(id -u)" != 0 ] || ! id postgres >/dev/null 2>&1; then
    say "cannot start a private PostgreSQL (needs root and the postgres user): its tests will skip"; return 0
  fi
  pgdata=$(mktemp -d /tmp/steward-pg.XXXXXX)
  chown postgres "$pgdata"
  local port=55432
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  runuser -u postgres -- "$pgbin/initdb" -D "$pgdata/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata/data" -l "$pgdata/log" -w \
    -o "-p $port -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
  trap 'runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$pgdata"' EXIT
  # pg_signal_backend: the tests drop their databases WITH (FORCE), which must also end an autovacuum worker there.
  runuser -u postgres -- "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE steward LOGIN CREATEDB PASSWORD 'steward' IN ROLE pg_signal_backend" >/dev/null
  export STEWARD_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=steward;Password=steward;Database=postgres"
  say "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

install_node_packages() {
  [ -f tests/node/package-lock.json ] || return 0
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || { say "npm is missing: the end-to-end MCP tests will skip"; return 0; }
  fi
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >&2
}

install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  apt_install chromium || say "chromium is missing and cannot be installed (not root): the console's browser tests will skip"
}

install_bubblewrap() {
  [ -x /usr/bin/bwrap ] && return 0
  apt_install bubblewrap || say "bubblewrap is missing and cannot be installed (not root): the sandbox tests will skip"
}

start_postgres
install_node_packages
install_chromium
install_bubblewrap

# One test project at a time (-m:1): on a 2-core machine, projects run side by side starve each other's real hosts,
# sandboxes and npx launches (a sandboxed server-everything then sometimes exits during its handshake).
dotnet test -m:1 "${STEWARD_TEST_TARGET:-Steward.slnx}" "$@"
