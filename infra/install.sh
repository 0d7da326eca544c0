#!/usr/bin/env bash
# Installs what the MLflow stack, `make train` and the tests need, from package registries only, and only what is
# missing (so it is quick the second time):
#   Debian: PostgreSQL (full stack), python3-venv, python3-torch + torchvision and Fashion-MNIST (make train)
#   PyPI:   MLflow and its client-side needs, into .venv (infra/venv.sh); MLflow 2.x into .venv-mlflow2 (tests);
#           TensorFlow 2.21 (CPU), Keras 3 and tf2onnx into .venv-tf (the Keras converter's tests)
#   Debian: buildah and debootstrap (the containerize test builds a real image without a Docker engine),
#           podman and runc (make docker-engine: a Docker API for the docker CLI, so images run in real containers;
#           docker.io only for its CLI, where no docker CLI is installed),
#           chromium (the Swagger UI test drives it with playwright-core; no browser download),
#           apache2-utils (ab: the README's load example, run by the docs test)
#   Go:     kubeconform, kustomize and the Kubernetes schemas (infra/k8s-tools.sh: the deploy tests validate with them)
#   Go:     MinIO, built from its module into .stack-bin/minio (about 5-8 min on 2 cores, once)
#           Jaeger v2 (the tracing tests' OTLP backend), built from infra/jaeger/go.mod into .stack-bin/jaeger
#           (about 5-6 min on 2 cores, once)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The MinIO release the stack is tested with (a Go pseudo-version: MinIO tags releases outside Go's semver).
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
step() { printf '== %s\n' "$*"; }
timed() { local t0; t0=$(date +%s); "$@"; printf '   (%s s)\n' "$(( $(date +%s) - t0 ))"; }

apt_missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_missing+=(postgresql)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || apt_missing+=(python3-venv)
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || apt_missing+=(python3-torch python3-torchvision)
[[ -d /usr/share/datasets/fashion-mnist ]] || apt_missing+=(dataset-fashion-mnist)
command -v buildah >/dev/null || apt_missing+=(buildah)
command -v debootstrap >/dev/null || apt_missing+=(debootstrap)
command -v podman >/dev/null || apt_missing+=(podman)
command -v runc >/dev/null || apt_missing+=(runc)
command -v iptables >/dev/null || apt_missing+=(iptables)
command -v ab >/dev/null || apt_missing+=(apache2-utils)
command -v docker >/dev/null || apt_missing+=(docker.io)
command -v chromium >/dev/null || apt_missing+=(chromium)
if [[ ${#apt_missing[@]} -gt 0 ]]; then
  step "apt: ${apt_missing[*]}"
  SUDO=(); [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  timed bash -c "${SUDO[*]} apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${SUDO[*]} apt-get install -y -qq --no-install-recommends ${apt_missing[*]} >/dev/null"
  # Debian's package starts a cluster of its own on 5432; the stack runs its own clusters, so stop it.
  if command -v pg_ctlcluster >/dev/null; then pg_lsclusters -h 2>/dev/null | while read -r v c _; do pg_ctlcluster "$v" "$c" stop 2>/dev/null || true; done; fi
fi

step "Python venv with MLflow (.venv)"
timed "$root/infra/venv.sh"
step "Python venv with MLflow 2.x (.venv-mlflow2, for the compatibility tests)"
timed env BENTO_VENV="$root/.venv-mlflow2" BENTO_REQUIREMENTS="$root/infra/requirements-mlflow2.txt" "$root/infra/venv.sh"
step "Python venv with TensorFlow and Keras (.venv-tf, for the converter tests)"
timed env BENTO_VENV="$root/.venv-tf" BENTO_REQUIREMENTS="$root/infra/requirements-tf.txt" BENTO_VENV_ISOLATED=1 "$root/infra/venv.sh"

minio="$root/.stack-bin/minio"
stamp="$root/.stack-bin/minio.version"
if [[ ! -x "$minio" || "$(cat "$stamp" 2>/dev/null)" != "$MINIO_VERSION" ]]; then
  step "MinIO $MINIO_VERSION (go install)"
  command -v go >/dev/null || { echo "Go is needed to build MinIO (https://go.dev/dl or apt-get install golang)"; exit 1; }
  mkdir -p "$root/.stack-bin"
  timed env GOBIN="$root/.stack-bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$stamp"
fi
# Jaeger's own go.mod has a replace directive, so `go install ...@version` refuses it: infra/jaeger/go.mod is a tool
# module that pins it (bump with `go -C infra/jaeger get -tool github.com/jaegertracing/jaeger/cmd/jaeger@vX`).
jaeger="$root/.stack-bin/jaeger"
jaeger_stamp="$root/.stack-bin/jaeger.version"
JAEGER_VERSION="$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' "$root/infra/jaeger/go.mod")"
if [[ ! -x "$jaeger" || "$(cat "$jaeger_stamp" 2>/dev/null)" != "$JAEGER_VERSION" ]]; then
  step "Jaeger $JAEGER_VERSION (go build, infra/jaeger)"
  command -v go >/dev/null || { echo "Go is needed to build Jaeger (https://go.dev/dl or apt-get install golang)"; exit 1; }
  mkdir -p "$root/.stack-bin"
  timed env CGO_ENABLED=0 go -C "$root/infra/jaeger" build -buildvcs=false -o "$jaeger" \
    -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION" \
    github.com/jaegertracing/jaeger/cmd/jaeger
  echo "$JAEGER_VERSION" > "$jaeger_stamp"
fi
step "Kubernetes validation tools (kubeconform, kustomize, schemas)"
timed "$root/infra/k8s-tools.sh"
step "ready: mlflow $("$root/.venv/bin/python" -c "import importlib.metadata as m; print(m.version('mlflow'))"), minio $(cat "$stamp"), $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
