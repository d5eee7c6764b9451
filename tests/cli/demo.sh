#!/usr/bin/env bash
# `vigil demo --duration 50`: within the run it prints alarms raised and orders offered and
# accepted, and a summary at the end.
set -uo pipefail
vigil=$1 src=$2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$src"
"$vigil" demo --duration 50 --http 127.0.0.1:0 > "$log" 2>&1
rc=$?
tail -n 5 "$log"
[[ $rc -eq 0 ]] || { echo "demo exited $rc"; cat "$log"; exit 1; }
grep -qE '^alarm +e[0-9]+ [a-z_0-9]+ (CRITICAL|MAJOR)' "$log" || { echo "no alarm printed"; exit 1; }
grep -qE '^offer +' "$log" || { echo "no offer printed"; exit 1; }
grep -qE '^order +.* ACCEPTED' "$log" || { echo "no order accepted"; exit 1; }
grep -qE '^summary: events in [1-9][0-9]*, alarms raised [1-9]' "$log" || { echo "no summary"; exit 1; }
echo "demo: $(grep -cE '^alarm ' "$log") alarm lines, $(grep -cE '^offer ' "$log") offers, $(grep -cE '^order .* ACCEPTED' "$log") accepted"
