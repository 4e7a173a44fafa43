#!/usr/bin/env bash
# Renders deploy/kubernetes (the base and each overlay) and validates what it renders, offline:
#   1. kustomize builds each kustomization (a bad patch, a missing file or resource fails);
#   2. kubeconform -strict checks every resource against the Kubernetes API's own OpenAPI schema
#      (v$KUBERNETES_VERSION): known kinds, required fields, types, no unknown field, no duplicate
#      key. kubeconform would download its schemas; here they are made from the OpenAPI document
#      in the k8s.io/kubernetes Go module (scripts/kubernetes-schemas.ts);
#   3. scripts/check-kubernetes.ts checks what Kilat needs of them (probes on the right ports,
#      SERVICES, the README's variables, the grace period against the drain, PDBs, partitions,
#      security context, and the app's own validation of each Deployment's environment).
# kustomize and kubeconform are built once from the Go module proxy and kept in KILAT_CACHE_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${KILAT_CACHE_DIR:-$HOME/.cache/kilat}
# v5.8.3 and later need Go 1.27; the machine has 1.26.
KUSTOMIZE_VERSION=v5.8.2
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=1.37.2

# Prints the path of a Go tool, building it the first time: go_tool <package> <version>.
go_tool() {
  local package=$1 version=$2 name dir gobin
  # The binary is named after the last path element, a major-version suffix (/v5) left out.
  name=$(basename "${package%/v[0-9]*}")
  dir=$CACHE_DIR/bin/$name-$version
  if [[ ! -x $dir/$name ]]; then
    echo "[kubernetes] building $name $version from the Go module proxy" >&2
    gobin=$(mktemp -d)
    GOBIN=$gobin timeout 900 go install "$package@$version" >&2
    mkdir -p "$dir"
    mv "$gobin/$name" "$dir/$name"
    rm -rf "$gobin"
  fi
  echo "$dir/$name"
}

cd "$ROOT"
kustomize=$(go_tool sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")
kubeconform=$(go_tool github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The module is only downloaded (21 MB, once), not built: its api/openapi-spec is what we need.
spec=$(cd "$work" && timeout 900 go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).Dir))')
node --import tsx scripts/kubernetes-schemas.ts "$spec/api/openapi-spec/swagger.json" "$work/schemas"

renders=()
for dir in deploy/kubernetes/base deploy/kubernetes/overlays/*/; do
  dir=${dir%/}
  name=${dir#deploy/kubernetes/}
  out=$work/${name//\//-}.yaml
  "$kustomize" build "$dir" >"$out"
  "$kubeconform" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$work/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$out" |
    sed "s|^Summary|[kubernetes] $name: kubeconform|; s|$out|$name|"
  renders+=("$name=$out")
done
node --import tsx scripts/check-kubernetes.ts "${renders[@]}"
echo "[kubernetes] deploy/kubernetes renders and validates (Kubernetes $KUBERNETES_VERSION)"
