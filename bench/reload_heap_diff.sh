#!/usr/bin/env bash
# What the reload bench's live heap gained between its warm-up sample and its last, by owner
# (issue #6 point 6; bench/README.md "Reload", session 22).
#
#   bench/reload_heap_diff.sh [VIGIL] [-- extra reload-bench flags]
#
# Runs `vigil bench --workload reload --reloads 100000 --warmup 10000` twice under heaptrack,
# stopped (VIGIL_BENCH_STOP_AT_SAMPLE) right after the warm-up's sample and after the last, with
# every allocation still live; each run's "leaked at exit" is then what was live at that sample,
# and their difference, stack by stack, is what the measured window added. The two runs are
# the same records and reloads up to the first stop. Prints the difference by owner and the
# largest stacks. Needs heaptrack (apt-get install heaptrack) and python3; ~80 s here.
# Run from the project root (the bench reads rules/eldercare).
set -euo pipefail
vigil=build/release/engine/app/vigil
if [[ $# -gt 0 && $1 != -- ]]; then vigil=$1; shift; fi
[[ ${1:-} == -- ]] && shift
reloads=100000 warmup=10000
for tool in heaptrack heaptrack_print python3; do
  command -v "$tool" >/dev/null || { echo "reload_heap_diff: needs $tool (apt-get install heaptrack python3)" >&2; exit 2; }
done
[[ -x $vigil ]] || { echo "reload_heap_diff: no vigil binary at $vigil" >&2; exit 2; }
work=$(mktemp -d /tmp/vigil-heap-diff.XXXXXX)
echo "reload_heap_diff: recordings in $work"
for at in "$warmup" "$reloads"; do
  rc=0
  VIGIL_BENCH_STOP_AT_SAMPLE=$at heaptrack -o "$work/at_$at" "$vigil" bench --workload reload \
    --reloads "$reloads" --warmup "$warmup" "$@" >"$work/at_$at.log" 2>&1 || rc=$?
  grep -q "stopped after the sample at $at reloads" "$work/at_$at.log" \
    || { echo "reload_heap_diff: the run to $at reloads did not stop at its sample (rc=$rc): $work/at_$at.log" >&2; exit 1; }
  grep "^reload: $at reloads, RSS" "$work/at_$at.log"
  heaptrack_print -f "$work/at_$at.zst" --flamegraph-cost-type leaked -F "$work/at_$at.stacks" >/dev/null
done
python3 "$(dirname "$0")/heap_diff.py" "$work/at_$warmup.stacks" "$work/at_$reloads.stacks"
