#!/usr/bin/env bash
# dispatch.max_candidates and dispatch.offers_per_candidate from the config file: the
# order_all_decline scenario (two cleaning agencies that decline everything) makes 4 offers
# with the defaults (2 candidates x 2 offers) and 1 offer with both set to 1, then escalates.
# A value below 1 is refused with the file, line and key.
set -euo pipefail
vigil=$1 src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case_in="$src/tests/replay/order_all_decline/input.jsonl"
offers() { grep -c '{"topic":"dispatch"' "$1" || true; }

"$vigil" replay --rules "$src/rules/eldercare" --input "$case_in" --output "$out/default.jsonl" 2>/dev/null
test "$(offers "$out/default.jsonl")" -eq 4

printf 'dispatch:\n  max_candidates: 1\n  offers_per_candidate: 1\n' > "$out/one.yaml"
"$vigil" replay --config "$out/one.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/one.jsonl" 2>/dev/null
test "$(offers "$out/one.jsonl")" -eq 1
grep -q '"agency_id":"clean-a"' "$out/one.jsonl"
if grep -q '{"topic":"dispatch","key":"clean-b"' "$out/one.jsonl"; then
  echo "clean-b was offered with max_candidates: 1" >&2
  exit 1
fi
grep -q '"state":"ESCALATED","ts":"[^"]*","reason":"no_agency_accepted"' "$out/one.jsonl"

printf 'dispatch:\n  offers_per_candidate: 0\n' > "$out/bad.yaml"
if "$vigil" replay --config "$out/bad.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/bad.jsonl" 2> "$out/bad.err"; then
  echo "offers_per_candidate: 0 was accepted" >&2
  exit 1
fi
grep -q 'bad.yaml:2: dispatch.offers_per_candidate must be at least 1, got 0' "$out/bad.err"
echo "dispatch config: 4 offers by default, 1 with max_candidates=offers_per_candidate=1; 0 refused"
