#!/usr/bin/env bash
# A second MongoDB stand-in for benchmarks: FerretDB (the binary `scripts/infra.sh ferretdb-bin`
# builds) with its PostgreSQL handler, over a private PostgreSQL cluster (Debian's package).
#
#   bash scripts/stand-ins/ferretdb-postgres.sh up [port]   start what is not running (default
#                                                          port 27032), print the mongo URL
#   bash scripts/stand-ins/ferretdb-postgres.sh down        stop both servers (data is kept)
#   bash scripts/stand-ins/ferretdb-postgres.sh status      what is running
#
# The cluster lives in <KILAT_INFRA_DIR or .infra>/data/postgres, listens on 127.0.0.1:$KILAT_PG_PORT
# (default 5433) and on a unix socket in run/postgres-socket, with `trust` authentication for
# local connections only; Debian's own cluster (5432) is neither used nor touched. Pid files
# run/postgres.pid and run/ferretdb-pg.pid; logs go to logs/.
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user
# (created by the Debian package), otherwise as the calling user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOG_NAME=ferretdb-pg
# shellcheck source=scripts/lib/daemons.sh
source "$ROOT/scripts/lib/daemons.sh"

PG_MAJOR=15
PG_PORT=${KILAT_PG_PORT:-5433}
PG_DATA=$DATA_DIR/postgres
PG_SOCKET_DIR=$RUN_DIR/postgres-socket
PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/ferretdb
FERRET_STATE=$DATA_DIR/ferretdb-pg-state

# ---------------------------------------------------------------- PostgreSQL (Debian package)
pg_bindir() {
  local dir=/usr/lib/postgresql/$PG_MAJOR/bin
  [[ -x $dir/postgres ]] || dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
  [[ -n $dir && -x $dir/postgres ]] && echo "$dir"
}

ensure_postgres_installed() {
  PG_BIN=$(pg_bindir) && return
  [[ $(id -u) == 0 ]] ||
    die "PostgreSQL is not installed and installing it needs root: run 'apt-get install -y postgresql' as root"
  log "installing postgresql from Debian's packages"
  mkdir -p "$LOG_DIR"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
    >>"$LOG_DIR/postgres-install.log" 2>&1 || die "could not install postgresql (see $LOG_DIR/postgres-install.log)"
  PG_BIN=$(pg_bindir) || die "postgresql installed, but no /usr/lib/postgresql/*/bin/postgres"
}

# The prefix that runs a command as the cluster's owner (PostgreSQL refuses root). setpriv
# execs, adding no process, so the pid start_marked records is the server's own.
as_pg=()
if [[ $(id -u) == 0 ]]; then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return
  if [[ -d $PG_DATA && -n $(ls -A "$PG_DATA") ]]; then
    die "$PG_DATA exists but holds no cluster: remove it"
  fi
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user to run PostgreSQL as (the Debian package creates it)"
  fi
  log "initialising a PostgreSQL cluster in $PG_DATA"
  mkdir -p "$PG_DATA"
  chmod 700 "$PG_DATA"
  if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$PG_DATA"; fi
  # From /: the caller's directory may be closed to the postgres user.
  (cd / && "${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale) \
    >>"$LOG_DIR/postgres-initdb.log" 2>&1 || die "initdb failed (see $LOG_DIR/postgres-initdb.log)"
}

start_postgres() {
  init_cluster
  mkdir -p "$PG_SOCKET_DIR"
  chmod 700 "$PG_SOCKET_DIR"
  if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$PG_SOCKET_DIR"; fi
  log "starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
  (cd / && start_marked postgres "$PG_DATA" "${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DATA" -p "$PG_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$PG_SOCKET_DIR")
}

# A cluster whose pid file of ours is gone is still known by its own postmaster.pid.
adopt_postgres() {
  local pid
  pid_of postgres >/dev/null && return
  [[ -r $PG_DATA/postmaster.pid ]] && read -r pid <"$PG_DATA/postmaster.pid" || return 0
  mkdir -p "$RUN_DIR"
  echo "$pid $PG_DATA" >"$RUN_DIR/postgres.pid"
  pid_of postgres >/dev/null || rm -f "$RUN_DIR/postgres.pid"
}

postgres_up() {
  ensure_postgres_installed
  local pid
  adopt_postgres
  if pid=$(pid_of postgres); then
    log "postgres already running (pid $pid)"
  elif port_open "$PG_PORT"; then
    die "port $PG_PORT is taken by a server this script did not start (set KILAT_PG_PORT)"
  else
    rm -f "$RUN_DIR/postgres.pid"
    start_postgres
  fi
  wait_for postgres 60 "$PG_BIN/pg_isready" -q -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres
  local psql=("$PG_BIN/psql" -X -q -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if [[ $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'") != 1 ]]; then
    log "creating database ferretdb"
    "${psql[@]}" -c "CREATE DATABASE ferretdb" >&2
  fi
}

# ---------------------------------------------------------------- FerretDB (PostgreSQL handler)
ferretdb_up() {
  local port=$1 pid bin
  if pid=$(pid_of ferretdb-pg); then
    tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--listen-addr=127.0.0.1:$port" ||
      die "ferretdb-pg already runs (pid $pid) on another port: $0 down first"
    log "ferretdb-pg already running (pid $pid)"
  elif port_open "$port"; then
    die "port $port is taken by a server this script did not start"
  else
    # The cached build of infra.sh; its patch only touches the SQLite handler.
    bin=$(bash "$ROOT/scripts/infra.sh" ferretdb-bin) || die "could not build FerretDB"
    mkdir -p "$FERRET_STATE"
    log "starting FerretDB $("$bin" --version | sed -n 's/^version: //p') (postgresql handler) on 127.0.0.1:$port"
    start_marked ferretdb-pg "--state-dir=$FERRET_STATE" "$bin" --handler=postgresql --postgresql-url="$PG_URL" \
      --listen-addr="127.0.0.1:$port" --state-dir="$FERRET_STATE" \
      --debug-addr=- --telemetry=disable --log-level=warn
  fi
  wait_for ferretdb-pg 30 port_open "$port"
}

up() {
  local port=${1:-27032} started=$SECONDS
  [[ $port =~ ^[0-9]+$ ]] || die "port must be a number, not '$port'"
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
  postgres_up
  ferretdb_up "$port"
  log "ready in $((SECONDS - started))s (postgres on 127.0.0.1:$PG_PORT, data in $PG_DATA)"
  echo "mongodb://127.0.0.1:$port/"
}

down() {
  stop_daemon ferretdb-pg TERM 30
  # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients); SIGQUIT is immediate.
  adopt_postgres
  stop_daemon postgres INT 30 QUIT
}

status() {
  local name
  for name in postgres ferretdb-pg; do
    if pid_of "$name" >/dev/null; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; fi
  done
}

case ${1:-} in
  up) up "${2:-}" ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up [port] | down | status" >&2
    exit 2
    ;;
esac
