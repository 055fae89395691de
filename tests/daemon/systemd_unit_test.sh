#!/bin/sh
# systemd/emberd.service must verify cleanly and rate 2.5 or better ("OK") in
# `systemd-analyze security`. Run by ctest (label daemon):
#   systemd_unit_test.sh UNIT EMBERD
# ExecStart= is pointed at the binary just built: verify checks that it exists.
set -eu
unit=$1
emberd=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd_unit: skipped: systemd-analyze is not installed (Debian: systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/sbin/emberd|ExecStart=$emberd|" "$unit" > "$tmp/emberd.service"
grep -q "^ExecStart=$emberd " "$tmp/emberd.service"

# verify: no output at all (warnings about unknown or misspelt settings go to stderr too).
out=$(systemd-analyze verify "$tmp/emberd.service" 2>&1) || { echo "$out"; echo "systemd-analyze verify failed"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"
  echo "systemd-analyze verify is not clean"
  exit 1
fi
echo "systemd-analyze verify: clean"

# security: --threshold is ten times the score shown; 25 means 2.5.
report=$(systemd-analyze security --offline=true --no-pager "$tmp/emberd.service" 2>&1) || true
echo "$report" | grep "Overall exposure level"
if ! systemd-analyze security --offline=true --threshold=25 --no-pager "$tmp/emberd.service" >/dev/null 2>&1; then
  echo "$report" | grep "✗"
  echo "systemd-analyze security rates the unit above 2.5"
  exit 1
fi
