#!/usr/bin/env bash
# Builds the fuzz targets with clang (preset `fuzz`: ASan + UBSan + libFuzzer), replays every past
# finding, then fuzzes each target from a seed corpus made of the repository's own inputs:
#  - default (ctest, CI): a fixed seed and a fixed number of runs per target. Mostly the same
#    run each time, not always: on 2026-12-07 fuzz_http found a crash in one of two CI runs of
#    the same tree (the Beast assertion in engine/core/boost_assert.cc), so a pass is not a proof that the
#    next run passes; what a run finds becomes a regression input below;
#  - FUZZ_SECONDS=N: explore for N seconds per target with a random seed (developers).
# Exit 1 if any target finds a crash; the reproducer is left in build/fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-}
declare -A runs=([decode]=40000 [replay]=600 [rules]=20000 [http]=100000)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_decode fuzz_replay fuzz_rules fuzz_http
out=build/fuzz
mkdir -p "$out/findings" "$out/corpus/decode" "$out/corpus/replay" "$out/corpus/rules" "$out/corpus/http"
cp tests/replay/*/input.jsonl "$out/corpus/replay/" 2>/dev/null || true
for f in tests/replay/*/input.jsonl; do cp "$f" "$out/corpus/replay/$(basename "$(dirname "$f")").jsonl"; done
cp rules/eldercare/*.yaml tests/rules/*.yaml "$out/corpus/rules/"
# HTTP seeds: one real request per endpoint of engine/api/README.md (tests/fuzz/http_seeds/).
cp tests/fuzz/http_seeds/*.http "$out/corpus/http/"
# JSON seeds for the decoders: each replay value with the JSON-format selector byte per topic.
python3 - "$out/corpus/decode" tests/replay/*/input.jsonl <<'PY'
import json, sys
out = sys.argv[1]
sel = {"telemetry": 0, "calls": 1, "agency": 2, "registry": 3}
n = 0
for path in sys.argv[2:]:
    for line in open(path):
        try:
            rec = json.loads(line)
        except Exception:
            continue
        if rec.get("topic") in sel and isinstance(rec.get("value"), dict):
            data = bytes([0x80 | sel[rec["topic"]]]) + json.dumps(rec["value"]).encode()
            open(f"{out}/seed{n}", "wb").write(data)
            n += 1
PY
status=0
# Every finding fixed so far, first: each must now run clean.
for f in tests/fuzz/regressions/*; do
  t=$(basename "$f" | cut -d- -f1 | sed 's/^fuzz_//')
  if ! "$out/tests/fuzz/fuzz_$t" -timeout=10 "$f" > "$out/regression.log" 2>&1; then
    echo "fuzz: regression $f fails again"; tail -30 "$out/regression.log"; status=1
  else
    echo "fuzz: regression $(basename "$f") ok"
  fi
done
for t in decode replay rules http; do
  if [[ -n "$seconds" ]]; then bound=(-max_total_time="$seconds"); what="${seconds} s"
  else bound=(-seed=1 -runs="${runs[$t]}"); what="${runs[$t]} runs, seed 1"; fi
  echo "fuzz: fuzz_$t for $what"
  if ! "$out/tests/fuzz/fuzz_$t" "${bound[@]}" -timeout=10 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$out/findings/fuzz_$t-" "$out/corpus/$t" \
       > "$out/fuzz_$t.log" 2>&1; then
    echo "fuzz: fuzz_$t FOUND A CRASH (see $out/fuzz_$t.log and $out/findings/)"
    tail -40 "$out/fuzz_$t.log"
    status=1
  else
    grep -E 'stat::number_of_executed_units|Done' "$out/fuzz_$t.log" | tail -2
  fi
done
exit $status
