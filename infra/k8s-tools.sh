#!/usr/bin/env bash
# Installs what the deploy tests validate manifests with, from package registries only, into .stack-bin:
#   Go:   kubeconform (the validator) and kustomize (builds the kustomize base), from the Go module proxy
#   PyPI: the Kubernetes JSON schemas, from the kubernetes-validate wheel (generated from Kubernetes' OpenAPI)
#   Go:   the CRDs of ServiceMonitor (prometheus-operator) and InferenceService (KServe), converted to JSON schemas
#         with kubeconform's own openapi2jsonschema.py, and kept as they are for make test-k8s's API server
# Only what is missing (quick the second time). The schemas' shared definitions are referenced by absolute path,
# so the extracted directory is rewritten to point at itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
KUBECONFORM_VERSION=v0.7.0
# kustomize v5.8 needs Go 1.27; v5.7.1 builds with this machine's 1.26.
KUSTOMIZE_VERSION=v5.7.1
SCHEMAS_WHEEL=kubernetes-validate==1.37.0
K8S_VERSION="${K8S_SCHEMA_VERSION:-1.33.0}"
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KSERVE_VERSION=v0.15.2
bin="$root/.stack-bin"
schemas="$bin/k8s-schemas"
stamp="$schemas/versions"
# Bump when what is installed changes without a version changing.
RECIPE=2
want="$RECIPE $KUBECONFORM_VERSION $KUSTOMIZE_VERSION $SCHEMAS_WHEEL $K8S_VERSION $PROMETHEUS_OPERATOR_VERSION $KSERVE_VERSION"
[[ -x "$bin/kubeconform" && -x "$bin/kustomize" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]] && exit 0
command -v go >/dev/null || { echo "Go is needed to build kubeconform and kustomize (https://go.dev/dl or apt-get install golang)"; exit 1; }
mkdir -p "$bin"
GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"

rm -rf "$schemas" && mkdir -p "$schemas/kubernetes" "$schemas/crds" "$schemas/crd-manifests"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python="$root/.venv/bin/python"; [[ -x "$python" ]] || python=python3
"$python" -m pip download --quiet --no-deps --dest "$tmp" "$SCHEMAS_WHEEL"
"$python" - "$tmp"/kubernetes_validate-*.whl "v$K8S_VERSION-local-strict" "$schemas/kubernetes" <<'PY'
import sys, zipfile, os
wheel, version, out = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{version}/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
    if not names:
        sys.exit(f"{wheel} has no schemas for {version}")
    for n in names:
        text = z.read(n).decode()
        text = text.replace('"/api/_definitions.json#', f'"file://{out}/_definitions.json#')
        with open(os.path.join(out, n[len(prefix):]), "w") as f:
            f.write(text)
PY
crd_dir() { go mod download -json "$1@$2" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'; }
convert="$(crd_dir github.com/yannh/kubeconform "$KUBECONFORM_VERSION")/scripts/openapi2jsonschema.py"
prom="$(crd_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"
kserve="$(crd_dir github.com/kserve/kserve "$KSERVE_VERSION")"
crds=("$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
  "$kserve/config/crd/full/serving.kserve.io_inferenceservices.yaml")
(cd "$schemas/crds" && "$python" "$convert" "${crds[@]}" >/dev/null)
# The CRDs themselves, for a real API server (make test-k8s installs them to apply the manifests server-side).
cp "${crds[@]}" "$schemas/crd-manifests/" && chmod u+w "$schemas"/crd-manifests/*
echo "$want" > "$stamp"
echo "kubeconform $KUBECONFORM_VERSION, kustomize $KUSTOMIZE_VERSION, Kubernetes $K8S_VERSION schemas, ServiceMonitor and InferenceService CRDs (schemas and manifests) in $schemas"
