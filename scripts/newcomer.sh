#!/usr/bin/env bash
# The newcomer test: the README's own commands, as written, on a fresh clone, both ways.
#
#   bash scripts/newcomer.sh [embedded|distributed|both]    (default: both)
#
# It clones this repository's HEAD into a temporary folder, runs `npm ci` there, and then runs
# the shell blocks the README marks `<!-- newcomer:… -->`, in an empty environment (PATH and
# HOME only), so what the README says and what is tested cannot drift apart:
#   embedded     `npm install && npm start`, first on a machine that has never built the
#                embedded database (an empty KILAT_CACHE_DIR), then again (the data is kept),
#                then with the README's `--fresh` (the data is gone);
#   distributed  `npm run infra:up`, its exports, one `npm start` per service.
# Each run drives one full lifecycle, one cancellation and one dispute through REST and Socket.IO
# (test/newcomer/drive.ts), and everything it started is stopped again. The last line is
# `newcomer: N passed, M failed`; the exit code is non-zero when any check failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-both}
PORT=3000
WARM_START_LIMIT_S=15
passed=0
failed=0
group="" # the process group of the system currently running

log() { printf '[newcomer] %s\n' "$*"; }

WORK=$(mktemp -d)
CLONE=$WORK/kilat

# The shell block after `<!-- newcomer:<name> -->` in the clone's README.
readme_block() {
  awk -v marker="<!-- newcomer:$1 -->" '
    $0 == marker { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' "$CLONE/README.md"
}

# Runs a README block in its own session, with nothing but PATH and HOME (and any NAME=value
# arguments) in the environment; its output goes to the log named.
start_block() {
  local name=$1 logfile=$2
  shift 2
  local block
  block=$(readme_block "$name")
  [[ -n $block ]] || {
    log "the README has no block marked <!-- newcomer:$name -->"
    return 1
  }
  log "running the README's '$name' block:"
  printf '%s\n' "$block" | sed 's/^/    $ /'
  (cd "$CLONE" && exec setsid env -i PATH="$PATH" HOME="$HOME" "$@" bash -c "$block
wait") >"$logfile" 2>&1 &
  group=$!
}

# Stops the running block's whole process group (npm, node, the services) and waits for it.
stop_block() {
  [[ -n $group ]] || return 0
  kill -TERM -- "-$group" 2>/dev/null
  for _ in $(seq 1 150); do
    kill -0 -- "-$group" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$group" 2>/dev/null
  group=""
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# wait_http <path> <timeout-s>: until the gateway answers 200; fails early if the block ended.
wait_http() {
  local path=$1 timeout=$2 started=$SECONDS
  until curl -fsS -o /dev/null "http://127.0.0.1:$PORT$path" 2>/dev/null; do
    if ! kill -0 -- "-$group" 2>/dev/null; then
      log "the system exited before answering $path"
      return 1
    fi
    if ((SECONDS - started >= timeout)); then
      log "no 200 from $path after ${timeout}s"
      return 1
    fi
    sleep 0.2
  done
}

drive() {
  (cd "$CLONE" && node_modules/.bin/tsx test/newcomer/drive.ts "http://127.0.0.1:$PORT" "$@")
}

# check <name> <command…>: one counted check.
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    log "PASS $name"
  else
    failed=$((failed + 1))
    log "FAIL $name"
    return 1
  fi
}

show_log() {
  log "last lines of $1:"
  tail -n 40 "$1" | sed 's/^/    /'
}

# --- embedded: `npm install && npm start`, three times
# time_to <path> <timeout-s>: like wait_http, and sets elapsed_ms.
time_to() {
  local started
  started=$(date +%s%3N)
  wait_http "$1" "$2" || return 1
  elapsed_ms=$(($(date +%s%3N) - started))
}

seconds() { printf '%d.%01d s' $(($1 / 1000)) $((($1 % 1000) / 100)); }

embedded_start() {
  local label=$1 block=$2 timeout=$3 logfile=$WORK/embedded-$1.log
  shift 3
  port_free || {
    log "port $PORT is in use: stop what listens there first"
    return 1
  }
  start_block "$block" "$logfile" "$@" || return 1
  if ! time_to /ready "$timeout"; then
    show_log "$logfile"
    return 1
  fi
  log "$label: ready in $(seconds "$elapsed_ms")"
}

embedded() {
  local cache=$WORK/cache state=$WORK/booking.json
  # First start on a machine that has never obtained the embedded database.
  check "embedded: first start" embedded_start "first start" embedded 600 KILAT_CACHE_DIR="$cache" &&
    check "embedded: lifecycle" drive lifecycle "$state" &&
    check "embedded: cancellation" drive cancel &&
    check "embedded: scheduled beyond the authorisation window" drive scheduled &&
    check "embedded: dispute, partly refunded" drive dispute
  stop_block
  [[ -f $state ]] || return 0
  check "embedded: warm start ≤ ${WARM_START_LIMIT_S}s" warm_start "$cache" &&
    check "embedded: data kept across a restart" drive remembers "$state"
  stop_block
  check "embedded: --fresh starts empty" embedded_start "fresh start" fresh 60 KILAT_CACHE_DIR="$cache" &&
    check "embedded: nothing kept with --fresh" drive forgot "$state"
  stop_block
  check "embedded: nothing left running" nothing_left
}

warm_start() {
  embedded_start "warm start" embedded "$WARM_START_LIMIT_S" KILAT_CACHE_DIR="$1" || return 1
  ((elapsed_ms <= WARM_START_LIMIT_S * 1000))
}

# No Node process of the clone and no embedded database of it still runs (the infrastructure
# servers are infra:down's to stop).
nothing_left() {
  local proc left=0
  for proc in /proc/[0-9]*; do
    [[ $(readlink "$proc/cwd" 2>/dev/null) == "$CLONE"* ]] || continue
    tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -q node || continue
    echo "    left: $(tr '\0' ' ' <"$proc/cmdline")"
    left=1
  done
  if pgrep -f -- "$CLONE/.kilat" >/dev/null; then
    pgrep -af -- "$CLONE/.kilat" | sed 's/^/    left: /'
    left=1
  fi
  ((left == 0))
}

# --- distributed: infra:up, its exports, one process per service
distributed() {
  local logfile=$WORK/distributed.log
  port_free || {
    log "port $PORT is in use: stop what listens there first"
    failed=$((failed + 1))
    return
  }
  start_block distributed "$logfile" || {
    failed=$((failed + 1))
    return
  }
  if check "distributed: every process ready" time_to "/ready?all=true" 600; then
    log "distributed: ready in $(seconds "$elapsed_ms")"
    check "distributed: lifecycle" drive lifecycle "$WORK/distributed-booking.json" &&
      check "distributed: cancellation" drive cancel &&
      check "distributed: scheduled beyond the authorisation window" drive scheduled &&
      check "distributed: dispute, partly refunded" drive dispute
  else
    show_log "$logfile"
  fi
  stop_block
  check "distributed: no service left running" nothing_left
}

cleanup() {
  stop_block
  # Only what the clone's own infra:up started (its pid files); servers that were already
  # running are left alone.
  [[ -d $CLONE/.infra ]] && (cd "$CLONE" && bash scripts/infra.sh down >/dev/null 2>&1)
  rm -rf "$WORK"
}
trap cleanup EXIT

log "cloning $(git -C "$ROOT" rev-parse --short HEAD) into $CLONE and running npm ci"
git clone -q "$ROOT" "$CLONE" && (cd "$CLONE" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm-ci.log" 2>&1) || {
  show_log "$WORK/npm-ci.log"
  echo "newcomer: 0 passed, 1 failed"
  exit 1
}

case $MODE in
  embedded) embedded ;;
  distributed) distributed ;;
  both)
    embedded
    distributed
    ;;
  *)
    echo "usage: $0 [embedded|distributed|both]" >&2
    exit 2
    ;;
esac

echo "newcomer: $passed passed, $failed failed"
((failed == 0))
