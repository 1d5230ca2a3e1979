#!/usr/bin/env bash
# The whole test suite, from a fresh clone: creates .venv (Python >= 3.11) with oomguard and
# its dev extras at the versions pinned in constraints/test.txt (a new release upstream cannot
# turn CI red overnight), .venv-helm (Python >= 3.12, helm-sdkpy) for the chart tests,
# .venv-floor (the oldest releases pyproject.toml admits, constraints/floor.txt), then pytest.
# Extra arguments go to pytest. Fails loudly when an interpreter is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python MINOR: first interpreter >= 3.MINOR
  local minor=$1 candidate
  for candidate in python3 python3.13 python3.12 python3.11 \
      /root/.pyenv/versions/3.1[1-9]*/bin/python3 /usr/local/bin/python3.1[1-9] /usr/bin/python3.1[1-9]; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c "import sys; sys.exit(sys.version_info < (3, $minor))" 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

PY=$(find_python 11) || { echo "test.sh: Python >= 3.11 is required" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check \
  -c constraints/test.txt -e '.[dev]'

if [ -f scripts/helm-venv.sh ]; then
  bash scripts/helm-venv.sh
fi
bash scripts/floor-venv.sh  # the oldest releases pyproject.toml admits, for test_dependency_floor

exec .venv/bin/python -m pytest "$@"
