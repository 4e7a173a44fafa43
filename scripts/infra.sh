#!/usr/bin/env bash
# Local infrastructure for Kilat without Docker: Redis, Apache Kafka (one KRaft node),
# FerretDB (MongoDB wire protocol over SQLite) and stripe-mock.
#
#   bash scripts/infra.sh up            install what is missing, start what is not running, print exports
#   bash scripts/infra.sh down [--purge] stop exactly what `up` started (pid files); --purge drops the data
#   bash scripts/infra.sh status        what is running
#   bash scripts/infra.sh env           print the export lines again
#   bash scripts/infra.sh ferretdb-bin  build FerretDB once (cached) and print its path: the
#                                       embedded `npm start` uses it where mongod cannot be had
#
# Data, logs, pid files and the env file live under $KILAT_INFRA_DIR (default <repo>/.infra).
# Downloaded tools (Kafka jars, ferretdb, stripe-mock) are cached under $KILAT_CACHE_DIR
# (default ~/.cache/kilat) so a warm machine starts in seconds.
# KILAT_KAFKA_PORT, KILAT_KAFKA_CONTROLLER_PORT and KILAT_STRIPE_MOCK_PORT move those servers, so
# that a second stack (its own KILAT_INFRA_DIR) can run beside the usual one, e.g. to try an upgrade.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_NAME=infra
# shellcheck source=scripts/lib/daemons.sh
source "$ROOT/scripts/lib/daemons.sh"

KAFKA_VERSION=4.4.0
FERRETDB_VERSION=v1.24.2
STRIPE_MOCK_VERSION=v0.203.0

REDIS_PORT=6379
KAFKA_PORT=${KILAT_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KILAT_KAFKA_CONTROLLER_PORT:-9093}
MONGO_PORT=27017
FERRETDB_DEBUG_PORT=27018
STRIPE_MOCK_PORT=${KILAT_STRIPE_MOCK_PORT:-12111}

# run_once <name> <port> <start-function>: leaves a running server alone, starts it otherwise.
run_once() {
  local name=$1 port=$2 start=$3
  if pid_of "$name" >/dev/null; then
    log "$name already running (pid $(pid_of "$name"))"
  elif port_open "$port"; then
    log "$name: port $port is taken by a server this script did not start; using it"
    # A stale pid file would make wait_for take that server for ours, exited.
    local pid=""
    [[ -f $RUN_DIR/$name.pid ]] && read -r pid _ <"$RUN_DIR/$name.pid"
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then rm -f "$RUN_DIR/$name.pid"; fi
  else
    "$start"
  fi
}

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------- Redis (Debian package)
ensure_redis_installed() {
  command -v redis-server >/dev/null && return
  log "installing redis-server from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

start_redis() {
  ensure_redis_installed
  mkdir -p "$DATA_DIR/redis"
  start_bg redis redis-server --bind 127.0.0.1 --port $REDIS_PORT --dir "$DATA_DIR/redis" \
    --save "" --appendonly no --protected-mode yes
}

redis_up() {
  run_once redis $REDIS_PORT start_redis
  wait_for redis 20 bash -c "[[ \$(redis-cli -p $REDIS_PORT ping) == PONG ]]"
  log "redis ready on 127.0.0.1:$REDIS_PORT"
}

# ---------------------------------------------------------------- Chromium (Debian package)
# For the browser tests of the pages (playwright-core drives it; it downloads no browser).
CHROMIUM_BIN=/usr/bin/chromium

chromium_up() {
  if [[ ! -x $CHROMIUM_BIN ]]; then
    log "installing chromium from Debian's packages (for the browser tests)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$LOG_DIR/chromium.log" 2>&1 ||
      die "could not install chromium (see $LOG_DIR/chromium.log)"
  fi
  log "chromium ready: $($CHROMIUM_BIN --version 2>/dev/null | head -1)"
}

# ---------------------------------------------------------------- Kafka (Maven Central jars)
# The pom's digest is part of the folder's name: jars resolved from another pom are not reused.
KAFKA_POM=$ROOT/scripts/kafka/pom.xml
KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION-$(sha256sum "$KAFKA_POM" | cut -c1-12)/libs
# Kafka 4 logs through Log4j 2; without a configuration every Kafka JVM complains and logs little.
KAFKA_LOG_CONFIG=$ROOT/scripts/kafka/log4j2.xml
# Which Kafka formatted $DATA_DIR/kafka. A folder without it was formatted by 3.9.1, the version
# this script ran before it wrote the file.
KAFKA_FORMATTED_BY=$DATA_DIR/kafka.version

ensure_kafka_jars() {
  [[ -f $KAFKA_LIBS/.complete ]] && return
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
  command -v java >/dev/null || die "Java 17 is needed to run Kafka"
  log "resolving Apache Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" -Dkafka.version=$KAFKA_VERSION \
    dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS" >>"$LOG_DIR/kafka-jars.log" 2>&1 ||
    die "could not resolve Kafka's jars (see $LOG_DIR/kafka-jars.log)"
  touch "$KAFKA_LIBS/.complete"
}

kafka_config() {
  local dir=$INFRA_DIR/kafka
  mkdir -p "$dir" "$DATA_DIR/kafka"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR/kafka
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
EOF
}

# A data folder formatted by another Kafka version is not upgraded in place (that path is not
# tested here): it is moved aside, kept for inspection, and Kafka starts on a fresh folder. The
# local stack's topics are created again by kafka_up; `infra:down -- --purge` deletes both.
kafka_set_aside_other_version() {
  [[ -f $DATA_DIR/kafka/meta.properties ]] || return 0
  local formatted=3.9.1
  [[ -f $KAFKA_FORMATTED_BY ]] && read -r formatted <"$KAFKA_FORMATTED_BY"
  [[ $formatted == "$KAFKA_VERSION" ]] && return
  local aside
  aside=$DATA_DIR/kafka-$formatted-$(date +%Y%m%d-%H%M%S)
  log "Kafka data in $DATA_DIR/kafka was formatted by Kafka $formatted, this is $KAFKA_VERSION:" \
    "moving it to $aside and starting on an empty folder (remove it, or run" \
    "\`npm run infra:down -- --purge\`, once you no longer need it)"
  mv "$DATA_DIR/kafka" "$aside"
  rm -f "$KAFKA_FORMATTED_BY"
}

# The JVM command line shared by Kafka's StorageTool and the broker itself.
kafka_command_line() {
  KAFKA_JAVA=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="file:$KAFKA_LOG_CONFIG" -cp "$KAFKA_LIBS/*")
}

start_kafka() {
  ensure_kafka_jars
  kafka_set_aside_other_version
  kafka_config
  kafka_command_line
  if [[ ! -f $DATA_DIR/kafka/meta.properties ]]; then
    local cluster_id
    cluster_id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid | tail -1)
    log "formatting Kafka $KAFKA_VERSION storage (cluster $cluster_id)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$INFRA_DIR/kafka/server.properties" >>"$LOG_DIR/kafka-format.log" 2>&1 ||
      die "could not format Kafka's storage (see $LOG_DIR/kafka-format.log)"
    echo "$KAFKA_VERSION" >"$KAFKA_FORMATTED_BY"
  fi
  start_bg kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$INFRA_DIR/kafka/server.properties"
}

kafka_up() {
  local pid
  # A broker started by an older version of this script keeps running on its jars until restarted.
  if pid=$(pid_of kafka) && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$KAFKA_LIBS"; then
    log "warning: the running Kafka (pid $pid) is not Kafka $KAFKA_VERSION; to switch, run" \
      "\`npm run infra:down && npm run infra:up\`"
  fi
  run_once kafka $KAFKA_PORT start_kafka
  wait_for kafka 90 port_open $KAFKA_PORT
  log "kafka listening on 127.0.0.1:$KAFKA_PORT; creating the catalog's topics"
  [[ -d $ROOT/node_modules ]] || die "node_modules missing: run npm install (or npm ci) before infra:up"
  KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT "$ROOT/node_modules/.bin/tsx" "$ROOT/scripts/create-topics.ts" >&2
}

# ---------------------------------------------------------------- FerretDB (Go module proxy)
# Applied in this order. A digest of their content is part of the binary's name, so a cached
# build made with other (or older) patches is not reused.
FERRETDB_PATCHES=(
  "$ROOT/scripts/ferretdb-sqlite-id-lookups.patch"
  "$ROOT/scripts/ferretdb-atomic-writes.patch"
)
FERRETDB_PATCHES_DIGEST=$(cat "${FERRETDB_PATCHES[@]}" | sha256sum | cut -c1-12)
FERRETDB_BIN=$CACHE_DIR/bin/ferretdb-$FERRETDB_VERSION-kilat-$FERRETDB_PATCHES_DIGEST

ensure_ferretdb() {
  [[ -x $FERRETDB_BIN ]] && return
  command -v go >/dev/null || die "Go is needed to build FerretDB"
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy"
  # A plain `go install …/cmd/ferretdb@$FERRETDB_VERSION` builds a binary that panics at start:
  # the module zip lacks build/version/version.txt, which FerretDB's release tooling generates.
  # So build the same module source with that one file written, and two patches applied:
  # ferretdb-sqlite-id-lookups.patch makes lookups by `_id` use the `_id` index (results are
  # unchanged; see the patch's comments):
  # - the SQL for "where _id = ?" spelled the JSON path differently from the unique `_id` index,
  #   so SQLite never used the index: every find, update and delete by `_id` scanned the table;
  # - a query was narrowed by `_id` only when `_id` was the filter's sole key, so a guarded write
  #   such as {_id, status} read and decoded the whole collection. It is now narrowed whenever
  #   the filter pins `_id` to one value; the whole filter still applies to what comes back.
  # ferretdb-atomic-writes.patch makes single-document writes atomic, as on MongoDB: update,
  # findAndModify and delete read, change and write back a document in separate steps, so two
  # at once on one document could lose one. A lock per document (per collection when the filter
  # does not pin `_id`) now covers each such read-modify-write, in the FerretDB process.
  local src build
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || die "could not download FerretDB $FERRETDB_VERSION"
  [[ -d $src ]] || die "could not download FerretDB $FERRETDB_VERSION"
  build=$(mktemp -d)
  cp -r "$src/." "$build"
  chmod -R u+w "$build"
  echo "$FERRETDB_VERSION" >"$build/build/version/version.txt"
  # `git apply` works outside a repository too; `patch` is not on every minimal image.
  local patch
  for patch in "${FERRETDB_PATCHES[@]}"; do
    (cd "$build" && git apply -p1 "$patch") || {
      rm -rf "$build"
      die "could not apply $patch"
    }
  done
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  (cd "$build" && CGO_ENABLED=0 go build -o "$FERRETDB_BIN" ./cmd/ferretdb) || {
    rm -rf "$build"
    die "could not build FerretDB"
  }
  rm -rf "$build"
}

start_ferretdb() {
  ensure_ferretdb
  mkdir -p "$DATA_DIR/ferretdb" "$DATA_DIR/ferretdb-state"
  # synchronous(normal): with SQLite's write-ahead log, a commit is durable against a crash of
  # FerretDB itself without an fsync per write; only an OS crash can lose the last commits.
  start_bg ferretdb "$FERRETDB_BIN" --handler=sqlite \
    --sqlite-url="file:$DATA_DIR/ferretdb/?_pragma=synchronous(normal)" \
    --listen-addr=127.0.0.1:$MONGO_PORT --state-dir="$DATA_DIR/ferretdb-state" \
    --debug-addr=127.0.0.1:$FERRETDB_DEBUG_PORT --telemetry=disable --log-level=warn
}

ferretdb_up() {
  run_once ferretdb $MONGO_PORT start_ferretdb
  wait_for ferretdb 30 port_open $MONGO_PORT
  log "ferretdb ready on 127.0.0.1:$MONGO_PORT"
}

# ---------------------------------------------------------------- stripe-mock (Go module proxy)
STRIPE_MOCK_BIN=$CACHE_DIR/bin/stripe-mock-$STRIPE_MOCK_VERSION/stripe-mock

start_stripe_mock() {
  if [[ ! -x $STRIPE_MOCK_BIN ]]; then
    command -v go >/dev/null || die "Go is needed to install stripe-mock"
    log "installing stripe-mock $STRIPE_MOCK_VERSION from the Go module proxy"
    GOBIN=$(dirname "$STRIPE_MOCK_BIN") go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  fi
  # Given only -http-addr, stripe-mock v0.203.0 still opens its HTTPS listener on every interface,
  # on $PORT when set (else 12112): a caller's PORT=3000 took the gateway's port. So HTTPS gets an
  # explicit loopback address and PORT is not passed on. Known by its path, as before.
  start_marked stripe-mock "$STRIPE_MOCK_BIN" env -u PORT "$STRIPE_MOCK_BIN" \
    -http-addr 127.0.0.1:$STRIPE_MOCK_PORT -https-addr 127.0.0.1:$((STRIPE_MOCK_PORT + 1))
}

stripe_mock_up() {
  run_once stripe-mock $STRIPE_MOCK_PORT start_stripe_mock
  wait_for stripe-mock 30 curl -fsS -u sk_test_123: "http://127.0.0.1:$STRIPE_MOCK_PORT/v1/balance"
  log "stripe-mock ready on 127.0.0.1:$STRIPE_MOCK_PORT"
}

# ---------------------------------------------------------------- commands
# The exports for running Kilat on these servers. Payments stay simulated (no STRIPE_SECRET_KEY):
# stripe-mock is stateless and sends no webhooks, so a PaymentIntent it answers never settles
# and no booking could be accepted. STRIPE_MOCK_URL is for the Stripe adapter's contract tests,
# CHROMIUM_PATH for the pages' browser tests; the system itself reads neither.
#
# maxPoolSize=8: FerretDB is built with single-document writes atomic (the atomic-writes patch),
# so a process may use several connections: with one, every request of a service waited behind
# its background work (lifecycle bench, distributed: 6.0 → 7.7 lifecycles/s, accept p99 914 →
# 529 ms at 10 owners at a time). Eight served that load without queueing.
write_env() {
  cat >"$INFRA_DIR/env" <<EOF
export TRANSPORTER=redis://127.0.0.1:$REDIS_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export MONGO_URL=mongodb://127.0.0.1:$MONGO_PORT/?maxPoolSize=8
export STRIPE_MOCK_URL=http://127.0.0.1:$STRIPE_MOCK_PORT
export CHROMIUM_PATH=$CHROMIUM_BIN
EOF
}

up() {
  local started=$SECONDS
  mkdir -p "$INFRA_DIR" "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
  # Independent installs overlap; each step still waits for its own readiness.
  redis_up
  # After Redis: both install with apt, which takes one process at a time.
  chromium_up
  ferretdb_up &
  local ferret=$!
  stripe_mock_up &
  local smock=$!
  kafka_up
  wait $ferret || die "ferretdb failed"
  wait $smock || die "stripe-mock failed"
  write_env
  log "all up in $((SECONDS - started))s; data and logs in $INFRA_DIR"
  cat "$INFRA_DIR/env"
}

down() {
  local name
  for name in stripe-mock ferretdb kafka redis; do stop_daemon "$name" TERM 20; done
  if [[ ${1:-} == --purge ]]; then
    log "removing $DATA_DIR"
    rm -rf "$DATA_DIR" "$INFRA_DIR/env"
  fi
}

status() {
  local name
  for name in redis kafka ferretdb stripe-mock; do
    if pid_of "$name" >/dev/null; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down "${2:-}" ;;
  status) status ;;
  env) cat "$INFRA_DIR/env" ;;
  ferretdb-bin)
    ensure_ferretdb
    echo "$FERRETDB_BIN"
    ;;
  *)
    echo "usage: $0 up | down [--purge] | status | env | ferretdb-bin" >&2
    exit 2
    ;;
esac
