#!/usr/bin/env bash
# Creates .venv-floor: the oldest Python and dependency releases pyproject.toml admits
# (constraints/floor.txt), with oomguard installed from this checkout. Used by
# tests/test_dependency_floor.py. Idempotent: kept while constraints/floor.txt is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

STAMP=.venv-floor/constraints.sha256
want=$(sha256sum constraints/floor.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv-floor/bin/python ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

# The floor interpreter is the one requires-python names.
FLOOR=$(sed -n 's/^requires-python = ">=\([0-9.]*\)".*/\1/p' pyproject.toml)
PY=""
for candidate in "python$FLOOR" /root/.pyenv/versions/"$FLOOR".*/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
      && [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$FLOOR" ]; then
    PY=$(command -v "$candidate"); break
  fi
done
if [ -z "$PY" ]; then
  echo "floor-venv.sh: Python $FLOOR (the floor of requires-python) is required" >&2
  exit 1
fi

rm -rf .venv-floor
"$PY" -m venv .venv-floor
# Exactly the pinned floor set: --no-deps on oomguard so nothing newer slips in.
.venv-floor/bin/python -m pip install -q --disable-pip-version-check -r constraints/floor.txt
.venv-floor/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
.venv-floor/bin/python -m pip check
echo "$want" > "$STAMP"
