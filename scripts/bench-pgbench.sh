#!/usr/bin/env bash
# bench-pgbench.sh — the database's raw ceiling on this machine: pgbench doing a
# bare single-row INSERT into a scratch table, 16 clients for 10 s, in a
# scratch database next to "paymend" (dropped afterwards).
# Prints "pgbench single-row insert: N tps". Skips (exit 0) when pgbench is absent.
#
# Knobs: PGBENCH_CLIENTS (16), PGBENCH_SECONDS (10).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLIENTS=${PGBENCH_CLIENTS:-16}
SECS=${PGBENCH_SECONDS:-10}

find_tool() {
  local d
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [[ -x $d/$1 ]]; then echo "$d/$1"; return 0; fi
  done
  return 1
}

PGBENCH=$(find_tool pgbench) || {
  echo "pgbench single-row insert: skipped (pgbench not installed; it comes with the postgresql package)"
  exit 0
}
PSQL=$(find_tool psql) || { echo "bench-pgbench.sh: psql not found" >&2; exit 1; }

URL=${DATABASE_URL:-$(bash scripts/db.sh url)}
SCRATCH_DB=paymend_pgbench
# Same server and credentials, other database.
SCRATCH_URL=$(sed -E "s#/[^/?]+(\\?|\$)#/$SCRATCH_DB\\1#" <<<"$URL")

psql_q() { PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -q -v ON_ERROR_STOP=1 "$@"; }

tmp=$(mktemp -d)
cleanup() {
  rm -rf "$tmp"
  psql_q "$URL" -c "DROP DATABASE IF EXISTS $SCRATCH_DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql_q "$URL" -c "DROP DATABASE IF EXISTS $SCRATCH_DB" >/dev/null
psql_q "$URL" -c "CREATE DATABASE $SCRATCH_DB" >/dev/null
psql_q "$SCRATCH_URL" >/dev/null <<'SQL'
CREATE TABLE scratch_insert (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  merchant   bigint NOT NULL,
  payload    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
SQL
cat >"$tmp/insert.sql" <<'SQL'
\set m random(1, 100)
INSERT INTO scratch_insert (merchant, payload) VALUES (:m, 'x');
SQL

threads=$(nproc 2>/dev/null || echo 2)
((threads > CLIENTS)) && threads=$CLIENTS
"$PGBENCH" -n -c "$CLIENTS" -j "$threads" -T "$SECS" -f "$tmp/insert.sql" "$SCRATCH_URL" >"$tmp/out" 2>&1 || {
  cat "$tmp/out" >&2
  echo "bench-pgbench.sh: pgbench failed" >&2
  exit 1
}
tps=$(sed -nE 's/^tps = ([0-9]+)(\.[0-9]+)? .*/\1/p' "$tmp/out" | head -n1)
[[ -n $tps ]] || { cat "$tmp/out" >&2; echo "bench-pgbench.sh: no tps in pgbench output" >&2; exit 1; }
echo "pgbench single-row insert: $tps tps ($CLIENTS clients, ${SECS}s)"
