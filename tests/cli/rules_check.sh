#!/usr/bin/env bash
# `vigil rules check`: silent and exit 0 on the shipped pack; every seeded mistake located as
# file:line:col and exit 1 on the broken file.
set -uo pipefail
vigil=$1 src=$2
out=$("$vigil" rules check "$src/rules/eldercare"); rc=$?
[[ $rc -eq 0 && -z "$out" ]] || { echo "pack: rc=$rc output: $out"; exit 1; }
out=$("$vigil" rules check "$src/tests/rules/five_mistakes.yaml"); rc=$?
echo "$out"
[[ $rc -ne 0 ]] || { echo "broken file passed"; exit 1; }
located=$(grep -cE '^[^:]+five_mistakes.yaml:[0-9]+:[0-9]+: ' <<<"$out")
for msg in "unknown kind 'treshold'" "did you mean 'severity'" "unknown parameter 'duratoin_s'" \
           "bad schedule window" "bad duration '15x'"; do
  grep -q "$msg" <<<"$out" || { echo "missing: $msg"; exit 1; }
done
[[ $located -eq 5 ]] || { echo "$located located errors, expected exactly 5"; exit 1; }
echo "rules check: $located located errors"
