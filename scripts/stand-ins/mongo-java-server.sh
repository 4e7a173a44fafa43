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
LOG_NAME=mongo-java-server
# shellcheck source=scripts/lib/daemons.sh
source "$ROOT/scripts/lib/daemons.sh"

VERSION=1.47.0
NAME=mongo-java-server
HOST=127.0.0.1
SOURCE=$ROOT/scripts/stand-ins/$NAME/Main.java
HOME_DIR=$CACHE_DIR/$NAME-$VERSION
LIBS=$HOME_DIR/libs
CLASSES=$HOME_DIR/classes

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
  if pid=$(pid_of "$NAME"); then
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
    start_marked "$NAME" "$HOME_DIR" java -Xms64m -Xmx512m -XX:+UseSerialGC \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CLASSES:$LIBS/*" Main "$HOST" "$port"
    wait_for "$NAME" 30 port_open "$port"
    pid=$(pid_of "$NAME")
    log "ready on $HOST:$port (pid $pid)"
  fi
  echo "mongodb://$HOST:$port/"
}

down() {
  pid_of "$NAME" >/dev/null || log "not running"
  stop_daemon "$NAME" TERM 10
}

case ${1:-} in
  up) up "${2:-}" ;;
  down) down ;;
  *)
    echo "usage: $0 up [port] | down" >&2
    exit 2
    ;;
esac
