#!/usr/bin/env bash
# bench.sh — what `make bench` does: machine header, go benchmarks against the
# project-local database (output also in bench.out, benchstat-ready), then the
# pgbench ceiling.
#
# Knobs: BENCHTIME (default 1s), BENCH (the -bench regexp, default .),
#        BENCH_PKGS (default ./...).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
BENCH_PKGS=${BENCH_PKGS:-./...}

machine() {
  local cpu mem
  cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n1)
  mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
  echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, ${mem:-unknown} RAM"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}") $(uname -r)"
  echo "go: $($GO env GOVERSION)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
}

if [[ -z ${PAYMEND_TEST_DATABASE_URL:-} ]]; then
  PAYMEND_TEST_DATABASE_URL=$(bash scripts/db.sh url)
fi
export PAYMEND_TEST_DATABASE_URL
export CHROMIUM=${CHROMIUM:-$(bash scripts/chromium.sh path 2>/dev/null || echo /usr/bin/chromium)}

status=0
# shellcheck disable=SC2086 # BENCH_PKGS is a word list on purpose
{
  machine
  echo
  $GO test -run='^$' -bench="$BENCH" -benchmem -benchtime="$BENCHTIME" -timeout 30m $BENCH_PKGS
} 2>&1 | tee bench.out || status=1

echo
pg=$(DATABASE_URL=$PAYMEND_TEST_DATABASE_URL bash scripts/bench-pgbench.sh) || status=1
echo "$pg"
echo "$pg" >>bench.out

if ((status != 0)); then
  echo "BENCH SUMMARY: FAIL (see above; output in bench.out)"
  exit 1
fi
echo "BENCH SUMMARY: done (output in bench.out)"
