#!/usr/bin/env bash
# Validates docker-compose.yml with `docker compose config` (no Docker engine needed).
# The compose CLI plugin is built once from the Go module proxy when the machine lacks it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${KILAT_CACHE_DIR:-$HOME/.cache/kilat}
COMPOSE_VERSION=v2.29.7
PLUGIN=$CACHE_DIR/bin/compose-$COMPOSE_VERSION/docker-compose

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  else
    if [[ ! -x $PLUGIN ]]; then
      echo "[compose] building docker compose $COMPOSE_VERSION from the Go module proxy" >&2
      local gobin
      gobin=$(mktemp -d)
      GOBIN=$gobin go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
      mkdir -p "$(dirname "$PLUGIN")"
      mv "$gobin/cmd" "$PLUGIN"
      rm -rf "$gobin"
    fi
    "$PLUGIN" "$@"
  fi
}

cd "$ROOT"
# .env.example ships empty secrets (compose refuses them): validate with throw-away values.
config=$(JWT_SECRET=validation-only-secret-000000000 STRIPE_WEBHOOK_SECRET=whsec_validation \
  compose -f docker-compose.yml config --format json)
# The containers are configured with the variables the README documents, by the same names.
undocumented=$(node -e '
  const readme = require("fs").readFileSync("README.md", "utf8");
  const services = Object.values(JSON.parse(process.argv[1]).services);
  const names = new Set(services.flatMap((service) => Object.keys(service.environment ?? {})));
  const kafkaImage = (name) => name.startsWith("KAFKA_") && name !== "KAFKA_BROKERS";
  console.log([...names].filter((n) => !kafkaImage(n) && !readme.includes("`" + n + "`")).join(" "));
' "$config")
if [[ -n $undocumented ]]; then
  echo "[compose] docker-compose.yml sets variables the README does not document: $undocumented" >&2
  exit 1
fi
echo "[compose] docker-compose.yml is valid; its Kilat variables are the README's"
