#!/usr/bin/env bash
# Creates (or refreshes) the project-local Python venv holding MLflow: .venv at the repo root
# (BENTO_VENV and BENTO_REQUIREMENTS make another, e.g. .venv-mlflow2 for the MLflow 2.x compatibility tests,
# .venv-tf for the TensorFlow ones, with BENTO_VENV_ISOLATED=1).
# It sees Debian's torch/torchvision (system site packages) so `make train` needs no PyPI torch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BENTO_VENV:-$root/.venv}"
requirements="${BENTO_REQUIREMENTS:-$root/infra/requirements.txt}"
python="${BENTO_PYTHON:-/usr/bin/python3}"
stamp="$venv/.requirements.sha"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
  # BENTO_VENV_ISOLATED=1: without Debian's packages (torch, and the NumPy 1.x it needs).
  if [[ -n "${BENTO_VENV_ISOLATED:-}" ]]; then "$python" -m venv "$venv"; else "$python" -m venv --system-site-packages "$venv"; fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
echo "venv ready: $venv ($("$venv/bin/python" -c 'import mlflow; print("mlflow", mlflow.__version__)'))"
