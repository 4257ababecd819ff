#!/usr/bin/env bash
# The keysweep GitHub Action's work (action.yml runs this script; tests/test_github_action.py runs
# it locally the same way). Inputs come as KS_* variables, GitHub's as GITHUB_* ones.
#
#   action-scan.sh            scan, write the findings (JSON) and SARIF files, and set the outputs
#                             findings-count, sarif-file and exit-code; never fails itself, so the
#                             SARIF is uploaded whatever was found
#   action-scan.sh --verdict  fail (exit 1) on findings unless KS_FAIL_ON_FINDINGS=false, and on any
#                             scan that did not complete
#
# What keysweep prints quotes the scanned repository (a submodule's path, a file's name): while it
# runs, the runner obeys no workflow command (`::stop-commands::` with a token nothing scanned can
# know, then `::<token>::`), and its standard error is sent to standard output, so the runner reads
# one stream in order and nothing it prints can come before the stop.
set -uo pipefail

output() {  # name=value to the step's outputs (or standard output, run by hand)
  if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"; else printf '%s=%s\n' "$1" "$2"; fi
}

number() {  # $1 if it is a whole number, else "?": nothing else reaches a workflow command's text
  case "$1" in ''|*[!0-9]*) printf '?' ;; *) printf '%s' "$1" ;; esac
}

if [ "${1:-}" = "--verdict" ]; then
  count=$(number "${KS_COUNT:-}")
  case "${KS_EXIT:-}" in
    0) echo "keysweep: no new findings"; exit 0 ;;
    1) if [ "${KS_FAIL_ON_FINDINGS:-true}" = "false" ]; then
         echo "keysweep: $count new finding(s); not failing (fail-on-findings: false)"; exit 0
       fi
       echo "::error title=keysweep::$count leaked credential(s) found: see code scanning or this job's log"
       exit 1 ;;
    *) echo "::error title=keysweep::the scan did not complete (keysweep exit status $(number "${KS_EXIT:-}"))"; exit 1 ;;
  esac
fi

keysweep=${KEYSWEEP:-keysweep}
out=${KS_OUT_DIR:-${RUNNER_TEMP:-/tmp}/keysweep}
mkdir -p "$out"
zero=0000000000000000000000000000000000000000
range=${KS_RANGE:-auto}
if [ "$range" = auto ]; then
  case "${GITHUB_EVENT_NAME:-}" in
    pull_request|pull_request_target) range="${KS_PR_BASE:-}..${KS_PR_HEAD:-}" ;;
    push)
      if [ "${KS_PUSH_AFTER:-$zero}" = "$zero" ]; then  # a deleted branch adds nothing
        output findings-count 0; output sarif-file ""; output exit-code 0; exit 0
      fi
      range="${KS_PUSH_BEFORE:-$zero}..$KS_PUSH_AFTER" ;;  # a new branch (before is zeros): all its history
    *) range="" ;;  # schedule, workflow_dispatch: the whole history
  esac
fi

args=(scan git "${KS_PATH:-.}" --db "$out/keysweep.db")
[ -n "$range" ] && args+=(--range "$range")
while IFS= read -r rules; do
  [ -n "$rules" ] && args+=(--rules "$rules")
done <<< "${KS_RULES:-}"
[ -n "${KS_BASELINE:-}" ] && args+=(--baseline "$KS_BASELINE")
verify=()
if [ "${KS_VERIFY:-false}" = "true" ]; then
  verify=(--verify)
  [ -n "${KS_CONFIG:-}" ] && verify+=(--config "$KS_CONFIG")
fi

token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
echo "::stop-commands::$token"
echo "keysweep ${args[*]} ${verify[*]}"
"$keysweep" "${args[@]}" "${verify[@]}" --format json -o "$out/findings.json" 2>&1
status=$?
# The SARIF from the same store: the range is read again (a whole-history scan reads nothing new).
"$keysweep" "${args[@]}" --format sarif -o "$out/keysweep.sarif" 2>&1 > /dev/null
echo "::$token::"
count=0
if [ -s "$out/findings.json" ]; then
  count=$(python3 -c 'import json, sys; print(sum(1 for f in json.load(open(sys.argv[1])) if f.get("baselined") is not True))' "$out/findings.json")
fi
output findings-count "$count"
output sarif-file "$([ -s "$out/keysweep.sarif" ] && echo "$out/keysweep.sarif")"
output exit-code "$status"
echo "keysweep: exit $status, $count new finding(s); SARIF in $out/keysweep.sarif"
exit 0
