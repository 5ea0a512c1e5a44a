#!/usr/bin/env bash
# test.sh — everything `make test` runs; exit 0 only when all of it passed.
#
#   scripts/test.sh [all]     deps, database, vet, generated-code check, go test -race, fuzz
#   scripts/test.sh vet|generated|gotest|fuzz   one step (the database is started for gotest/fuzz)
#
# Every step runs even when an earlier one failed, so one run shows all the
# breakage; the last line is the summary.
#
# Environment passed to the tests:
#   PAYMEND_TEST_DATABASE_URL   the project-local cluster (scripts/db.sh url) unless already set
#   CHROMIUM                    the browser for chromedp (default /usr/bin/chromium)
# Knobs: FUZZTIME (default 4s), GOTEST_TIMEOUT (default 12m), GOTEST_FLAGS (extra flags).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-4s}
GOTEST_TIMEOUT=${GOTEST_TIMEOUT:-12m}
GOTEST_FLAGS=${GOTEST_FLAGS:-}
START=$SECONDS

PASSED=()
FAILED=()
pass() { PASSED+=("$1"); }
fail() { FAILED+=("$1"); echo "--- FAIL: $1" >&2; }
step() { printf '\n==> %s\n' "$*"; }

# need_c_compiler: -race needs cgo, so a C compiler.
need_c_compiler() {
  command -v "${CC:-gcc}" >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]]; then
    echo "test.sh: no C compiler (go test -race needs cgo); installing gcc" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q >&2 &&
      apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends gcc libc6-dev >&2
  else
    echo "go test -race needs a C compiler. Install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y gcc libc6-dev" >&2
    return 1
  fi
}

deps() {
  step "dependencies (PostgreSQL, Chromium, C compiler)"
  local ok=0
  bash scripts/db.sh install || ok=1
  bash scripts/chromium.sh install || ok=1
  need_c_compiler || ok=1
  return $ok
}

DB_READY=""
db() {
  [[ -n $DB_READY ]] && return 0
  step "database"
  if [[ -z ${PAYMEND_TEST_DATABASE_URL:-} ]]; then
    bash scripts/db.sh start || return 1
    PAYMEND_TEST_DATABASE_URL=$(bash scripts/db.sh url)
  fi
  export PAYMEND_TEST_DATABASE_URL
  export CHROMIUM=${CHROMIUM:-$(bash scripts/chromium.sh path 2>/dev/null || echo /usr/bin/chromium)}
  echo "PAYMEND_TEST_DATABASE_URL=$PAYMEND_TEST_DATABASE_URL"
  echo "CHROMIUM=$CHROMIUM"
  DB_READY=1
}

run_vet() {
  step "go vet ./..."
  if $GO vet ./...; then pass vet; else fail "go vet"; fi
}

# Files we search for generated code and fuzz targets: the tree minus dot
# folders (.git, .pg), node_modules and testdata.
project_files() {
  find . \( -name '.?*' -o -name node_modules -o -name testdata \) -prune -o -type f -name "$1" -print | sed 's|^\./||' | LC_ALL=C sort
}

hash_templ_go() {
  local f
  project_files '*_templ.go' | while IFS= read -r f; do sha256sum "$f"; done
}

run_generated() {
  step "generated code is up to date (go tool templ generate)"
  local before after changed missing orphans f ok=1
  before=$(hash_templ_go)
  if ! $GO tool templ generate; then
    fail "templ generate"
    return
  fi
  after=$(hash_templ_go)
  changed=$(diff <(echo "$before") <(echo "$after") | sed -n 's/^[<>] [0-9a-f]*  //p' | LC_ALL=C sort -u)
  missing=""
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    # Checked against the state before generation: a .templ without its _templ.go.
    grep -qxF "${f%.templ}_templ.go" <(echo "$before" | sed 's/^[0-9a-f]*  //') || missing+="  $f"$'\n'
  done < <(project_files '*.templ')
  orphans=""
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    [[ -f ${f%_templ.go}.templ ]] || orphans+="  $f"$'\n'
  done < <(project_files '*_templ.go')
  if [[ -n $changed ]]; then
    ok=0
    echo "Generated code was stale; 'go tool templ generate' changed:" >&2
    sed 's/^/  /' <<<"$changed" >&2
  fi
  if [[ -n $missing ]]; then
    ok=0
    echo "These .templ files had no generated _templ.go:" >&2
    printf '%s' "$missing" >&2
  fi
  if [[ -n $orphans ]]; then
    ok=0
    echo "These _templ.go files have no .templ (delete them):" >&2
    printf '%s' "$orphans" >&2
  fi
  if ((ok)); then
    pass generated
  else
    echo "Run 'make generate' and commit the result." >&2
    fail "stale generated code"
  fi
}

run_gotest() {
  db || { fail "database"; return; }
  step "go test -race -count=1 -timeout $GOTEST_TIMEOUT ./..."
  # shellcheck disable=SC2086 # GOTEST_FLAGS is a word list on purpose
  if $GO test -race -count=1 -timeout "$GOTEST_TIMEOUT" $GOTEST_FLAGS ./...; then
    pass "go test"
  else
    fail "go test"
  fi
}

# fuzz_targets prints "<package dir> <FuzzName>" for every fuzz target.
fuzz_targets() {
  local f
  project_files '*_test.go' | while IFS= read -r f; do
    grep -oE '^func Fuzz[A-Za-z0-9_]*\(' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(/\1/' |
      while IFS= read -r name; do printf '%s %s\n' "$(dirname "$f")" "$name"; done
  done | LC_ALL=C sort -u
}

run_fuzz() {
  db || { fail "database"; return; }
  local targets dir name n=0 bad=0
  targets=$(fuzz_targets)
  if [[ -z $targets ]]; then
    step "fuzz: no fuzz targets found"
    pass "fuzz (none)"
    return
  fi
  while read -r dir name; do
    n=$((n + 1))
    step "fuzz $name in ./$dir for $FUZZTIME"
    if ! $GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "./$dir"; then
      bad=$((bad + 1))
      fail "fuzz $name (./$dir)"
      echo "    a failing input is saved under ./$dir/testdata/fuzz/$name/ and now runs in go test" >&2
    fi
  done <<<"$targets"
  if ((bad == 0)); then pass "fuzz ($n targets)"; else pass "fuzz ($((n - bad))/$n other targets)"; fi
}

summary() {
  local took=$((SECONDS - START))
  local t
  t=$(printf '%dm%02ds' $((took / 60)) $((took % 60)))
  echo
  if ((${#FAILED[@]} == 0)); then
    echo "TEST SUMMARY: PASS — ${PASSED[*]:-nothing run} ($t)"
    return 0
  fi
  local IFS=';'
  echo "TEST SUMMARY: FAIL — ${#FAILED[@]} failed: ${FAILED[*]}; passed: ${PASSED[*]:-none} ($t)"
  return 1
}

case ${1:-all} in
  all)
    deps || fail "dependencies"
    db || fail "database"
    run_vet
    run_generated
    [[ -n $DB_READY ]] && run_gotest
    [[ -n $DB_READY ]] && run_fuzz
    summary ;;
  vet)       run_vet; summary ;;
  generated) run_generated; summary ;;
  gotest)    run_gotest; summary ;;
  fuzz)      run_fuzz; summary ;;
  *) echo "usage: $0 [all|vet|generated|gotest|fuzz]" >&2; exit 2 ;;
esac
