#!/usr/bin/env bash
# The shell of the GitHub Action (action.yml), one phase per step:
#   install  venv under $RUNNER_TEMP with the oomguard of the Action's own ref ($GITHUB_ACTION_PATH),
#            or INPUT_VERSION (a pip requirement) when set
#   lint     oomguard lint with the inputs; never fails the step, so the SARIF upload that
#            follows still runs: writes exit-code, sarif-file and upload to $GITHUB_OUTPUT
#   finish   exits with the lint's exit code (OOMGUARD_EXIT_CODE): the job fails there
# Inputs arrive as INPUT_* environment variables (action.yml maps them), as in tests/test_action.py.
set -euo pipefail

VENV="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/oomguard-action-venv"

fail() {  # a workflow error annotation and the usage exit code of oomguard
  echo "::error title=oomguard action::$1"
  exit 2
}

output() {  # name value: a step output, as the runner reads them
  echo "$1=$2" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set (not run by the Actions runner?)}"
}

install() {
  local python=${INPUT_PYTHON:-python3} spec
  command -v "$python" >/dev/null || fail "python '$python' not found: add actions/setup-python before this step"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "oomguard needs Python >= 3.11; '$python' is $("$python" -V 2>&1)"
  if [ -n "${INPUT_VERSION:-}" ]; then
    spec=$INPUT_VERSION  # e.g. oomguard==0.2.0, or 'oomguard @ git+https://…@v0.2.0'
  else
    spec=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}  # the code of this Action's ref
    if [ -n "${INPUT_EXTRAS:-}" ]; then spec="$spec[$INPUT_EXTRAS]"; fi
  fi
  "$python" -m venv "$VENV"
  # --no-compile: a one-shot CI run imports few modules; compiling all of them costs more
  "$VENV/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "$spec"
  "$VENV/bin/oomguard" --version
}

lint() {
  local format=${INPUT_FORMAT:-sarif} upload=${INPUT_UPLOAD_SARIF:-true}
  local sarif_file=${INPUT_SARIF_FILE:-oomguard.sarif} code=0
  case $upload in true | false) ;; *) fail "upload-sarif must be true or false, not '$upload'" ;; esac
  local -a paths extra args
  # paths and args: separated by spaces or newlines; no globbing, no quotes (like `with:` lists)
  read -r -d '' -a paths <<<"${INPUT_PATHS:-.}" || true
  read -r -d '' -a extra <<<"${INPUT_ARGS:-}" || true
  [ ${#paths[@]} -gt 0 ] || fail "paths is empty"
  args=(lint --format "$format" --fail-on "${INPUT_FAIL_ON:-error}"
    --min-severity "${INPUT_MIN_SEVERITY:-warning}")
  if [ -n "${INPUT_CONFIG:-}" ]; then args+=(--config "$INPUT_CONFIG"); fi
  args+=("${extra[@]}" -- "${paths[@]}")

  if [ "$format" = sarif ]; then
    mkdir -p -- "$(dirname -- "$sarif_file")"
    "$VENV/bin/oomguard" "${args[@]}" >"$sarif_file" || code=$?
    # upload only a SARIF log oomguard wrote (a usage error leaves the file empty)
    if [ "$upload" = true ] && "$VENV/bin/python" - "$sarif_file" <<'EOF'; then
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        results = json.load(f)["runs"][0]["results"]
except (OSError, ValueError, LookupError, TypeError) as exc:
    sys.exit(f"oomguard: no SARIF log to upload in {sys.argv[1]} ({type(exc).__name__})")
print(f"oomguard: {len(results)} result(s) in {sys.argv[1]}, uploaded to code scanning next")
EOF
      output upload true
    else
      output upload false
    fi
    output sarif-file "$sarif_file"
  else
    "$VENV/bin/oomguard" "${args[@]}" || code=$?
    output upload false
    output sarif-file ""
  fi
  output exit-code "$code"
  echo "oomguard exit code: $code"
}

finish() {
  local code=${OOMGUARD_EXIT_CODE:-}
  [[ $code =~ ^[0-9]+$ ]] || fail "no exit code from the lint step"
  exit "$code"
}

case ${1:-} in
  install | lint | finish) "$1" ;;
  *) echo "usage: $0 install|lint|finish" >&2; exit 2 ;;
esac
