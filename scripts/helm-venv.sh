#!/usr/bin/env bash
# Creates .venv-helm: Python >= 3.12 with helm-sdkpy (Helm as a shared library), used by the
# chart tests (tests/test_chart.py) through scripts/helm_lint.py. Idempotent; fails loudly
# when no Python >= 3.12 interpreter can be found.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_SDKPY_VERSION=0.1.32

py_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }

if [ -x .venv-helm/bin/python ] && py_ok .venv-helm/bin/python \
    && .venv-helm/bin/python -c 'import helm_sdkpy' >/dev/null 2>&1; then
  exit 0
fi

PY=""
for candidate in "${PYTHON312:-}" python3.13 python3.12 \
    /root/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] \
    /usr/bin/python3.1[2-9] python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 && py_ok "$candidate"; then
    PY=$(command -v "$candidate"); break
  fi
done
if [ -z "$PY" ]; then
  echo "helm-venv.sh: Python >= 3.12 is required for helm-sdkpy (set PYTHON312=/path)" >&2
  exit 1
fi

rm -rf .venv-helm
"$PY" -m venv .venv-helm
.venv-helm/bin/python -m pip install -q --disable-pip-version-check \
  -c constraints/helm.txt "helm-sdkpy==${HELM_SDKPY_VERSION}"
.venv-helm/bin/python -c 'import helm_sdkpy; print("helm-sdkpy", helm_sdkpy.__version__)'
