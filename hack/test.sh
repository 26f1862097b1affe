#!/usr/bin/env bash
# `make test`, once its prerequisites are in place (venv, cluster, images): lint beside the
# smoke gate, then the whole suite in parallel workers. See docs/development.md, "The suite".
#
# 1. lint starts in the background (ruff, mypy, import contracts, generated files, helm);
# 2. the smoke gate (pytest -m smoke: the node serves a pod, the chart installs, a version
#    is Ready and predicts, a TrainingJob trains) runs alone; if it fails, or lint did,
#    the run stops there, red, with the failure's summary and the operator's logs;
# 3. everything else runs in $TEST_WORKERS pytest-xdist workers, the slowest first
#    (tests/ordering.py): the cluster tests mostly wait on pods, so the tests that need no
#    cluster fill the cores meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
WORKERS="${TEST_WORKERS:-6}"
read -r -a extra <<<"${PYTEST_ARGS:-}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
export MODELOPS_REQUIRE_CLUSTER=1

stamp() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

make -s lint >"$logs/lint.log" 2>&1 &
lint=$!
lint_result() {  # waits for lint; prints its output when it failed
    if wait "$lint"; then stamp "lint passed"; return 0; fi
    stamp "lint FAILED:"; cat "$logs/lint.log"; return 1
}

t0=$SECONDS
stamp "smoke gate (pytest -m smoke)"
if ! MODELOPS_E2E_KEEP_OPERATOR=1 "$PY" -m pytest -m smoke -x -q -rfE -p no:cacheprovider \
        "${extra[@]}"; then
    stamp "the smoke gate FAILED after $((SECONDS - t0)) s: the rest of the suite is not run"
    lint_result || true
    exit 1
fi
stamp "smoke gate passed in $((SECONDS - t0)) s"
lint_result

stamp "the suite: every other test, $WORKERS workers"
# One test at a time to whichever worker is free (--maxschedchunk 1): xdist's default
# hands each worker a run of consecutive tests first, which would give one worker all the
# slowest.
"$PY" -m pytest -m "not smoke" -n "$WORKERS" --dist load --maxschedchunk 1 -q -rfEs \
    -p no:cacheprovider --durations=25 "${extra[@]}"
stamp "the suite passed ($((SECONDS - t0)) s since the gate started)"
