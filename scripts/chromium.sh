#!/usr/bin/env bash
# chromium.sh — the Chromium the browser tests drive.
#
#   scripts/chromium.sh install   install Debian's chromium when it is missing
#   scripts/chromium.sh path      print the browser's path (fails when missing)
#
# The browser tests read the path from $CHROMIUM.
set -euo pipefail

find_chromium() {
  local c
  if [[ -n ${CHROMIUM:-} && -x ${CHROMIUM:-} ]]; then echo "$CHROMIUM"; return 0; fi
  if [[ -x /usr/bin/chromium ]]; then echo /usr/bin/chromium; return 0; fi
  for c in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

cmd_install() {
  find_chromium >/dev/null && return 0
  if [[ $(id -u) -eq 0 ]]; then
    echo "chromium.sh: Chromium not found; installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >&2
    find_chromium >/dev/null || { echo "chromium.sh: chromium installed but not found" >&2; exit 1; }
  else
    echo "Chromium (for the browser tests) is missing. Install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
  fi
}

case ${1:-} in
  install) cmd_install ;;
  path) find_chromium || { echo "chromium.sh: Chromium not found (run: scripts/chromium.sh install)" >&2; exit 1; } ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
