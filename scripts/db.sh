#!/usr/bin/env bash
# db.sh — the project-local PostgreSQL cluster for development and tests.
#
#   scripts/db.sh install   install the PostgreSQL server when it is missing
#   scripts/db.sh start     create (once) and start the cluster, ensure role+db "paymend"
#   scripts/db.sh stop      stop it if it runs
#   scripts/db.sh destroy   stop it and delete its data
#   scripts/db.sh status    say whether it runs, and where its data lives
#   scripts/db.sh url       print the DATABASE_URL
#   scripts/db.sh psql ...  open psql on the database (extra args go to psql)
#
# Environment: PGPORT (default 54329), PGROOT (default <repo>/.pg).
#
# The cluster listens on 127.0.0.1 only, has no unix socket and trusts every
# local connection; it runs with fsync=off. It is for a dev/test box only.
#
# initdb and pg_ctl refuse to run as root. As root they run as the "postgres"
# user on a data folder owned by it; when that user cannot enter $PGROOT (say,
# the clone lives under a 0700 home folder), the data folder goes to
# /var/tmp/paymend-pg-<hash of $PGROOT>-<port> and $PGROOT/data is a symlink
# to it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGPORT=${PGPORT:-54329}
PGROOT=${PGROOT:-$REPO/.pg}
PG_USER=postgres   # OS user that owns the cluster when we run as root

die() { echo "db.sh: $*" >&2; exit 1; }
note() { echo "db.sh: $*" >&2; }

[[ $PGPORT =~ ^[0-9]+$ ]] || die "PGPORT must be a number, got '$PGPORT'"

is_root() { [[ $(id -u) -eq 0 ]]; }

# pg_bindir prints the folder holding initdb/pg_ctl (newest version), or fails.
pg_bindir() {
  local d best
  best=$(for d in /usr/lib/postgresql/*/bin; do
           if [[ -x $d/pg_ctl && -x $d/initdb ]]; then echo "$d"; fi
         done | sort -V | tail -n1)
  if [[ -z $best ]] && command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    best=$(dirname "$(command -v pg_ctl)")
  fi
  [[ -n $best ]] || return 1
  echo "$best"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@"
}

cmd_install() {
  if pg_bindir >/dev/null; then return 0; fi
  if is_root; then
    note "PostgreSQL server not found; installing it with apt-get"
    apt_install postgresql postgresql-contrib >&2 || apt_install postgresql >&2
    pg_bindir >/dev/null || die "postgresql installed but initdb/pg_ctl still not found"
  else
    echo "PostgreSQL server (initdb, pg_ctl) is missing. Install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y postgresql" >&2
    exit 1
  fi
}

BIN=""
need_bin() {
  BIN=$(pg_bindir) || die "PostgreSQL server binaries not found (run: scripts/db.sh install)"
}

# as_owner runs a command as the cluster's owner: the postgres user when we are
# root, ourselves otherwise. "env -C /" keeps it out of a folder it cannot enter.
# fd 9 (the lock) is closed so that the server does not inherit and hold it.
as_owner() {
  if is_root; then
    runuser -u "$PG_USER" -- env -C / "$@" 9>&-
  else
    "$@" 9>&-
  fi
}

# fallback_dir is where the data lives when root's postgres user cannot enter
# $PGROOT. The hash names the project (its $PGROOT), the port keeps two clusters
# of one project apart.
fallback_dir() {
  local h
  h=$(printf '%s' "$PGROOT" | sha256sum | cut -c1-10)
  echo "/var/tmp/paymend-pg-$h-$PGPORT"
}

# DATA is the real data folder (symlinks resolved), set by resolve_data.
DATA=""
resolve_data() {
  local link=$PGROOT/data
  if [[ -L $link ]]; then
    DATA=$(readlink "$link")
  else
    DATA=$link
  fi
}

# prepare_data makes sure $DATA exists, belongs to the cluster owner and is
# reachable by it; it picks the /var/tmp fallback when needed (root only).
prepare_data() {
  (umask 022; mkdir -p "$PGROOT")
  resolve_data
  if ! is_root; then
    mkdir -p "$DATA"
    [[ -O $DATA ]] || die "$DATA belongs to $(stat -c %U "$DATA"), not to you (made by a root run?); remove it or set PGROOT"
    chmod 700 "$DATA"
    return
  fi
  id "$PG_USER" >/dev/null 2>&1 || die "running as root needs the '$PG_USER' OS user (it comes with the postgresql package)"
  if [[ ! -L $PGROOT/data ]]; then
    if runuser -u "$PG_USER" -- test -x "$PGROOT" 2>/dev/null; then
      if [[ ! -d $DATA ]]; then
        mkdir -m 700 "$DATA"
        chown "$PG_USER:" "$DATA"
      fi
      [[ $(stat -c %U "$DATA") == "$PG_USER" ]] ||
        die "$DATA is not owned by '$PG_USER'; was it created by another user? Remove it or set PGROOT."
      return
    fi
    # The postgres user cannot get to $PGROOT: keep the data outside.
    if [[ -e $PGROOT/data ]]; then
      die "the '$PG_USER' user cannot enter $PGROOT, and $PGROOT/data already exists as a folder; remove it (it will move to $(fallback_dir))"
    fi
    DATA=$(fallback_dir)
    ln -s "$DATA" "$PGROOT/data"
    note "the '$PG_USER' user cannot enter $PGROOT; cluster data lives in $DATA ($PGROOT/data links to it)"
  fi
  # Fallback folder: /var/tmp is world-writable, so trust only a real folder
  # that we made and that the postgres user owns alone.
  if [[ ! -e $DATA && ! -L $DATA ]]; then
    mkdir -m 700 "$DATA"
    chown "$PG_USER:" "$DATA"
  fi
  [[ -d $DATA && ! -L $DATA ]] || die "$DATA is not a folder"
  [[ $(stat -c %U "$DATA") == "$PG_USER" ]] || die "$DATA is not owned by '$PG_USER'; refusing to use it"
  chmod 700 "$DATA"
}

initialized() { [[ -f $DATA/PG_VERSION ]]; }

pick_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

init_cluster() {
  note "creating cluster in $DATA"
  as_owner "$BIN/initdb" --no-sync -A trust -U postgres -E UTF8 \
    --locale="$(pick_locale)" -D "$DATA" >"$PGROOT/initdb.log" 2>&1 ||
    { cat "$PGROOT/initdb.log" >&2; die "initdb failed"; }
  # Our settings live in paymend.conf, rewritten at every start.
  as_owner sh -c 'printf "\n# PayMend dev/test settings (scripts/db.sh rewrites this file)\ninclude_if_exists = '"'"'paymend.conf'"'"'\n" >>"$1/postgresql.conf"' sh "$DATA"
}

write_conf() {
  as_owner sh -c 'cat >"$1/paymend.conf"' sh "$DATA" <<EOF
# Written by scripts/db.sh at every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 256MB
wal_buffers = 64MB
# Local dev/test cluster only: speed over durability.
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 8GB
checkpoint_timeout = 30min
log_min_messages = warning
log_min_duration_statement = -1
timezone = 'UTC'
EOF
}

pg_running() { as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }
pg_ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -d postgres -U postgres; }
psql_admin() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres "$@"; }

ensure_role_db() {
  psql_admin >/dev/null <<'SQL'
SELECT 'CREATE ROLE paymend SUPERUSER LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'paymend')\gexec
SELECT 'CREATE DATABASE paymend OWNER paymend'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'paymend')\gexec
SQL
}

with_lock() {
  # Serialise start/stop of one PGROOT (two `make` at once).
  if command -v flock >/dev/null; then
    exec 9>"$PGROOT/.lock"
    flock -w 120 9 || die "timed out waiting for $PGROOT/.lock"
  fi
}

cmd_start() {
  need_bin
  prepare_data
  with_lock
  if initialized && pg_running; then
    if pg_ready; then
      ensure_role_db
      return 0
    fi
    # Running but not on our port (PGPORT changed), or still starting.
    for _ in $(seq 1 50); do pg_ready && { ensure_role_db; return 0; }; sleep 0.1; done
    die "the cluster in $DATA runs but does not answer on 127.0.0.1:$PGPORT (another PGPORT?); run: scripts/db.sh stop"
  fi
  initialized || init_cluster
  write_conf
  local log=$DATA/server.log
  if ! as_owner "$BIN/pg_ctl" start -w -t 60 -s -D "$DATA" -l "$log" >/dev/null; then
    tail -n 8 "$log" >&2 || true
    die "PostgreSQL did not start (port $PGPORT in use?); log: $log"
  fi
  for _ in $(seq 1 100); do pg_ready && break; sleep 0.1; done
  pg_ready || { tail -n 8 "$log" >&2 || true; die "PostgreSQL started but does not answer on 127.0.0.1:$PGPORT"; }
  ensure_role_db
  note "PostgreSQL running on 127.0.0.1:$PGPORT (data: $DATA)"
}

cmd_stop() {
  need_bin
  resolve_data
  initialized || return 0
  [[ -d $PGROOT ]] && with_lock
  if pg_running; then
    as_owner "$BIN/pg_ctl" stop -w -t 60 -s -m fast -D "$DATA"
    note "PostgreSQL stopped"
  fi
}

# destroy stops the cluster and deletes its data (also a /var/tmp fallback).
cmd_destroy() {
  cmd_stop
  resolve_data
  if [[ -L $PGROOT/data ]]; then
    case $DATA in /var/tmp/paymend-pg-*) rm -rf -- "$DATA" ;; esac
  fi
  rm -rf -- "$PGROOT/data" "$PGROOT/initdb.log"
  note "cluster data removed"
}

cmd_status() {
  need_bin
  resolve_data
  if ! initialized; then echo "no cluster in $DATA"; return 3; fi
  if pg_running && pg_ready; then
    echo "running on 127.0.0.1:$PGPORT (data: $DATA)"
  elif pg_running; then
    echo "running but not answering on 127.0.0.1:$PGPORT (data: $DATA)"; return 1
  else
    echo "stopped (data: $DATA)"; return 3
  fi
}

cmd_url() { echo "postgres://paymend@127.0.0.1:$PGPORT/paymend?sslmode=disable"; }

cmd_psql() {
  local psql
  psql=$(pg_bindir 2>/dev/null)/psql
  [[ -x $psql ]] || psql=$(command -v psql) || die "psql not found"
  exec "$psql" "$(cmd_url)" "$@"
}

case ${1:-} in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  destroy) cmd_destroy ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  psql)    shift; cmd_psql "$@" ;;
  *) echo "usage: $0 install|start|stop|destroy|status|url|psql [args]" >&2; exit 2 ;;
esac
