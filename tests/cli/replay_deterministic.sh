#!/usr/bin/env bash
# `vigil replay` of the SOS scenario, run twice: byte-identical output that holds the sos alarm
# and the offer to the nearest emergency_response agency.
set -euo pipefail
vigil=$1 src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$vigil" replay --rules "$src/rules/eldercare" --input "$src/tests/replay/sos/input.jsonl" --output "$out/a.jsonl"
"$vigil" replay --rules "$src/rules/eldercare" --input "$src/tests/replay/sos/input.jsonl" --output "$out/b.jsonl"
cmp "$out/a.jsonl" "$out/b.jsonl"
grep -q '"rule_id":"sos","severity":"CRITICAL","status":"ACTIVE_UNACK"' "$out/a.jsonl"
grep -q '{"topic":"dispatch","key":"ag-near"' "$out/a.jsonl"
echo "replay: $(wc -l < "$out/a.jsonl") records, identical across two runs"
