#!/usr/bin/env bash
# mongo-java-server (in-memory backend) as a MongoDB stand-in for benchmarks and tests.
#
#   bash scripts/stand-ins/mongo-java-server.sh up [port]   start it (default port 27031), print the URL
#   bash scripts/stand-ins/mongo-java-server.sh down        stop the server `up` started
#
# The jars come from Maven Central (cached under $KILAT_CACHE_DIR, default ~/.cache/kilat,
# with Main.java compiled next to them); the pid file and the log live under $KILAT_INFRA_DIR
# (default <repo>/.infra). All data is in memory and gone when the server stops.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
INFRA_DIR=${KILAT_INFRA_DIR:-$ROOT/.infra}
CACHE_DIR=${KILAT_CACHE_DIR:-$HOME/.cache/kilat}
RUN_DIR=$INFRA_DIR/run
LOG_DIR=$INFRA_DIR/logs

VERSION=1.47.0
NAME=mongo-java-server
HOST=127.0.0.1
SOURCE=$ROOT/scripts/stand-ins/$NAME/Main.java
HOME_DIR=$CACHE_DIR/$NAME-$VERSION
LIBS=$HOME_DIR/libs
CLASSES=$HOME_DIR/classes
PID_FILE=$RUN_DIR/$NAME.pid
LOG_FILE=$LOG_DIR/$NAME.log

log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() {
  printf '[%s] error: %s\n' "$NAME" "$*" >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The pid in the pid file, if that process is alive and is still our JVM (its command line
# names the cache dir; after a reboot the number may belong to something else).
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  read -r pid <"$PID_FILE"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$HOME_DIR" || return 1
  echo "$pid"
}

# The server's jars and their dependencies, resolved by Maven from a throwaway pom.
ensure_jars() {
  [[ -f $LIBS/.complete ]] && return
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch mongo-java-server's jars"
  log "resolving mongo-java-server $VERSION jars from Maven Central"
  rm -rf "$LIBS"
  mkdir -p "$HOME_DIR"
  cat >"$HOME_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kilat.stand-ins</groupId>
  <artifactId>$NAME</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>de.bwaldvogel</groupId>
      <artifactId>mongo-java-server</artifactId>
      <version>$VERSION</version>
    </dependency>
    <!-- so the server's warnings reach the log (slf4j alone would drop them) -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>2.0.17</version>
    </dependency>
  </dependencies>
</project>
EOF
  mvn -q -B -Dstyle.color=never -f "$HOME_DIR/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS" >>"$LOG_DIR/$NAME-jars.log" 2>&1 ||
    die "could not resolve the jars (see $LOG_DIR/$NAME-jars.log)"
  touch "$LIBS/.complete"
}

# Main.class, compiled again only when Main.java changed.
ensure_compiled() {
  [[ -f $CLASSES/Main.class && $CLASSES/Main.class -nt $SOURCE ]] && return
  command -v javac >/dev/null || die "a JDK (javac, Java 17) is needed"
  log "compiling $SOURCE"
  mkdir -p "$CLASSES"
  javac -nowarn -cp "$LIBS/*" -d "$CLASSES" "$SOURCE"
}

up() {
  local port=${1:-27031} pid
  [[ $port =~ ^[0-9]+$ ]] || die "not a port: $port"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if pid=$(running_pid); then
    # The port is the JVM's last argument.
    local running_port
    running_port=$(tr '\0' '\n' <"/proc/$pid/cmdline" | tail -1)
    [[ $running_port == "$port" ]] || die "already running on port $running_port (pid $pid): run down first"
    log "already running (pid $pid)"
  else
    port_open "$port" && die "port $port is taken by another server"
    command -v java >/dev/null || die "Java 17 is needed to run mongo-java-server"
    ensure_jars
    ensure_compiled
    # The serial collector suits a small machine; the heap bounds what the tests may store.
    setsid nohup java -Xms64m -Xmx512m -XX:+UseSerialGC \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CLASSES:$LIBS/*" \
      Main "$HOST" "$port" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    local deadline=$((SECONDS + 30))
    until port_open "$port"; do
      kill -0 "$pid" 2>/dev/null || die "exited before listening (see $LOG_FILE)"
      ((SECONDS < deadline)) || die "not listening on $port after 30s (see $LOG_FILE)"
      sleep 0.1
    done
    log "ready on $HOST:$port (pid $pid)"
  fi
  echo "mongodb://$HOST:$port/"
}

down() {
  local pid
  if pid=$(running_pid); then
    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

case ${1:-} in
  up) up "${2:-}" ;;
  down) down ;;
  *)
    echo "usage: $0 up [port] | down" >&2
    exit 2
    ;;
esac
