#!/usr/bin/env bash
# shard_nice from the config file and `vigil bench --shard-nice`: a value outside -20..19, or
# not a whole number, is refused with a clear message and a non-zero exit; a valid one is
# taken, and replay (one thread, event time) gives the same output with it as without. A value
# of the wrong type under any key is refused naming the file, line, key and value.
set -euo pipefail
vigil=$1 src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case_in="$src/tests/replay/order_all_decline/input.jsonl"

"$vigil" replay --rules "$src/rules/eldercare" --input "$case_in" --output "$out/default.jsonl" 2>/dev/null
printf 'commit_max_busy: 0.25\nshard_nice: -10\n' > "$out/nice.yaml"
"$vigil" replay --config "$out/nice.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/nice.jsonl" 2>/dev/null
cmp "$out/default.jsonl" "$out/nice.jsonl"

refused() {  # refused FILE_OR_ARGS... EXPECTED: the command fails and stderr has EXPECTED
  local expected=${*: -1}
  if "${@:1:$#-1}" > /dev/null 2> "$out/err"; then
    echo "accepted: ${*:1:$#-1}" >&2
    exit 1
  fi
  grep -qF -- "$expected" "$out/err" || { echo "no '$expected' in:" >&2; cat "$out/err" >&2; exit 1; }
}
printf 'commit_max_busy: 0.25\nshard_nice: 30\n' > "$out/high.yaml"
refused "$vigil" replay --config "$out/high.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/x.jsonl" 'high.yaml:2: shard_nice is a nice value, -20 to 19, got 30'
printf 'shard_nice: fast\n' > "$out/word.yaml"
refused "$vigil" replay --config "$out/word.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/x.jsonl" "word.yaml:1: shard_nice: 'fast' is not a value this key takes"
printf 'dispatch:\n  max_candidates: two\n' > "$out/nested.yaml"
refused "$vigil" replay --config "$out/nested.yaml" --rules "$src/rules/eldercare" --input "$case_in" \
  --output "$out/x.jsonl" "nested.yaml:2: dispatch.max_candidates: 'two' is not a value this key takes"
refused "$vigil" bench --shard-nice 30 '--shard-nice is a nice value, a whole number from -20 to 19'
refused "$vigil" bench --shard-nice -2.5 '--shard-nice is a nice value, a whole number from -20 to 19'
echo "engine config: shard_nice -10 taken (replay output unchanged); 30, 'fast', max_candidates 'two', --shard-nice 30 and -2.5 refused"
