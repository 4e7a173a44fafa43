# shellcheck shell=bash
# What scripts/infra.sh and scripts/stand-ins/*.sh share: where servers keep their files, and how
# a daemon is started, recognised again (after a reboot a pid may belong to something else) and
# stopped. Source it with ROOT (the repository) and LOG_NAME (the prefix of log lines) set.

# shellcheck disable=SC2034 # used by the scripts that source this file
INFRA_DIR=${KILAT_INFRA_DIR:-$ROOT/.infra}
CACHE_DIR=${KILAT_CACHE_DIR:-$HOME/.cache/kilat}
RUN_DIR=$INFRA_DIR/run
LOG_DIR=$INFRA_DIR/logs
DATA_DIR=$INFRA_DIR/data

log() { printf '[%s] %s\n' "$LOG_NAME" "$*" >&2; }
die() {
  printf '[%s] error: %s\n' "$LOG_NAME" "$*" >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_of <name>: the pid run/<name>.pid names, if that process is alive and its command line
# still holds the marker written beside the pid.
pid_of() {
  local file=$RUN_DIR/$1.pid
  [[ -f $file ]] || return 1
  local pid marker
  read -r pid marker <"$file"
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -z $marker ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# start_marked <name> <marker> <command...>: a daemon in its own session, logging to
# logs/<name>.log; pid_of knows it by the marker, a string of its command line.
start_marked() {
  local name=$1 marker=$2
  shift 2
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  setsid nohup "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo "$! $marker" >"$RUN_DIR/$name.pid"
}

# start_bg <name> <command...>: the same, known by the program's path.
start_bg() {
  local name=$1
  shift
  start_marked "$name" "$1" "$@"
}

# wait_for <name> <timeout-seconds> <command...>: polls the command until it succeeds; gives up
# at once when the daemon <name> has exited. (Its pid alone: until the daemon's exec, its command
# line is still this script's.)
wait_for() {
  local name=$1 timeout=$2 pid=""
  shift 2
  local deadline=$((SECONDS + timeout))
  [[ -f $RUN_DIR/$name.pid ]] && read -r pid _ <"$RUN_DIR/$name.pid"
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      die "$name exited while starting (see $LOG_DIR/$name.log)"
    fi
    ((SECONDS < deadline)) || die "$name not ready after ${timeout}s (see $LOG_DIR/$name.log)"
    sleep 0.2
  done
}

# stop_daemon <name> [signal] [seconds] [fallback-signal]: signals the daemon, waits, then insists.
stop_daemon() {
  local name=$1 signal=${2:-TERM} seconds=${3:-20} fallback=${4:-KILL} pid i
  if pid=$(pid_of "$name"); then
    log "stopping $name (pid $pid)"
    kill "-$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < seconds * 5; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name still running after ${seconds}s: sending SIG$fallback"
      kill "-$fallback" "$pid" 2>/dev/null || true
      for ((i = 0; i < 25; i++)); do # so that an `up` right after finds the port free
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
    fi
  fi
  rm -f "$RUN_DIR/$name.pid"
}
