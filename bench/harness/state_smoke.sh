#!/usr/bin/env bash
# Smoke test of the state benches (label bench): a small restart and a few hundred reloads.
# Asserts functional facts only (the first event after the crash and restart produced its alarm,
# every elder came back, all reloads were applied, RSS was read), never a time.
set -uo pipefail
vigil=$1 src=$2
work=$(mktemp -d /tmp/vigil-state-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$("$vigil" bench --workload restart --elders 2000 --rules "$src/rules/eldercare" \
        --data-dir "$work/restart" --json "$work/restart.json"); rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "restart: rc=$rc"; exit 1; }
grep -q "first event's alarm seen; elders all stored; RSS read" <<<"$out" || { echo "restart: facts missing"; exit 1; }
grep -q '"first_alarm":true' "$work/restart.json" || { echo "restart: JSON lacks first_alarm"; exit 1; }
grep -qE '"rss_after_load_mib":[1-9]' "$work/restart.json" || { echo "restart: JSON lacks RSS"; exit 1; }
grep -q '"event_time_start":"2026-01-01T00:00:00Z"' "$work/restart.json" \
  || { echo "restart: event time does not start at the standard origin"; exit 1; }
out=$("$vigil" bench --workload reload --reloads 200 --warmup 50 --disk-every 20 --elders 500 \
        --rules "$src/rules/eldercare" --data-dir "$work/reload" --json "$work/reload.json"); rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "reload: rc=$rc"; exit 1; }
grep -q "reload: 200/200 reloads applied; RSS read" <<<"$out" || { echo "reload: facts missing"; exit 1; }
grep -q '"reloads_from_disk":10' "$work/reload.json" || { echo "reload: JSON lacks disk reloads"; exit 1; }
# The records' event time starts at a fixed hour, not at the wall clock (the growth measured
# depends on the hour: bench/README.md "Reload"): 08:00 in Asia/Shanghai by default.
grep -q '"event_time_start":"2026-01-01T00:00:00Z"' "$work/reload.json" \
  || { echo "reload: event time does not start at the standard origin"; exit 1; }
# VIGIL_BENCH_STOP_AT_SAMPLE (bench/reload_heap_diff.sh): the process ends right after that
# sample, exit code 3, with no table and no JSON (a heap profiler reads what was live there).
out=$(VIGIL_BENCH_STOP_AT_SAMPLE=50 "$vigil" bench --workload reload --reloads 200 --warmup 50 \
        --elders 500 --rules "$src/rules/eldercare" --data-dir "$work/stop" --json "$work/stop.json"); rc=$?
[[ $rc -eq 3 && $out == *"reload: 50 reloads, RSS"* && $out == *"stopped after the sample at 50 reloads"* \
   && $out != *"reloads applied"* && ! -e $work/stop.json ]] \
  || { echo "reload: VIGIL_BENCH_STOP_AT_SAMPLE=50 did not stop at that sample (rc=$rc): $out"; exit 1; }
err=$("$vigil" bench --workload reload --start-hour 24 --rules "$src/rules/eldercare" 2>&1); rc=$?
[[ $rc -eq 2 && $err == *"--start-hour is the elders' local hour"* ]] \
  || { echo "reload: --start-hour 24 not refused (rc=$rc): $err"; exit 1; }
echo "state benches smoke: ok"
