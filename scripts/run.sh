#!/usr/bin/env bash
# run.sh — what `make run` does after the database is up and bin/paymend is
# built: migrate, seed the demo merchant, run the sandbox platform in the
# background and the console in the foreground. Ctrl-C stops both.
#
# DATABASE_URL defaults to the project-local cluster (scripts/db.sh url).
# Every other setting (PAYMEND_ADDR, PAYMEND_SECRET, OULEPAY_*, …) passes
# through from the environment; the binary prints the login details.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${PAYMEND_BIN:-bin/paymend}
[[ -x $BIN ]] || { echo "run.sh: $BIN not built (make build)" >&2; exit 1; }

if [[ -z ${DATABASE_URL:-} ]]; then
  DATABASE_URL=$(bash scripts/db.sh url)
fi
export DATABASE_URL

"$BIN" migrate
"$BIN" seed --demo

SANDBOX_PID=""
cleanup() {
  if [[ -n $SANDBOX_PID ]] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -TERM "$SANDBOX_PID" 2>/dev/null || true
    # Give it a moment to shut down cleanly, then insist.
    for _ in $(seq 1 50); do kill -0 "$SANDBOX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SANDBOX_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$BIN" sandbox --stream &
SANDBOX_PID=$!

# Foreground, so that Ctrl-C reaches it directly; its exit status is ours.
set +e
"$BIN" serve
status=$?
set -e
exit "$status"
