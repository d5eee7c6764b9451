#!/usr/bin/env bash
# Smoke test of `vigil bench --workload standard` (label bench): a small workload through the
# chosen phases, the broker ones included (real librdkafka clients on the embedded broker).
# Asserts functional facts only: exit codes, which phases ran, the JSON's keys, never a rate or
# a time.
set -uo pipefail
vigil=$1 src=$2
work=$(mktemp -d /tmp/vigil-standard-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "standard smoke: $*"; exit 1; }
small=(--workload standard --rules "$src/rules/eldercare" --elders 2000 --events 40000 --duration 2)

"$vigil" bench "${small[@]}" --phases inprocess-max,nope >"$work/out" 2>&1
[[ $? -eq 2 ]] || fail "an unknown phase did not exit 2"
grep -q "unknown phase 'nope'" "$work/out" || fail "an unknown phase was not named"

"$vigil" bench "${small[@]}" --phases broker-paced >"$work/out" 2>&1
[[ $? -eq 2 ]] || fail "broker-paced without broker-max or --broker-pace did not exit 2"
grep -q "needs --broker-pace" "$work/out" || fail "the missing rate was not explained"

out=$("$vigil" bench "${small[@]}" --partitions 4 --phases inprocess-max,raw,broker-max,broker-paced \
        --json "$work/run.json"); rc=$?
echo "$out"
[[ $rc -eq 0 ]] || fail "rc=$rc"
grep -q "phase 4/4" <<<"$out" || fail "four phases were not announced"
[[ $(grep -c "not run: skipped (--phases)" <<<"$out") -eq 2 ]] || fail "the two phases left out were not marked"
grep -q "broker/raw = " <<<"$out" || fail "no broker/raw ratio"
j="$work/run.json"
for key in inprocess_events_per_s broker_events_per_s broker_p99_us raw_consumer_events_per_s; do
  grep -qE "\"$key\":[0-9]" "$j" || fail "JSON $key is not a measurement"
done
for key in inprocess_p99_us rocksdb_batch_writes_per_s; do
  grep -q "\"$key\":null" "$j" || fail "JSON $key of a phase not run is not null"
done
grep -q '"phases_run":\["inprocess-max","raw","broker-max","broker-paced"\]' "$j" || fail "JSON phases_run"
grep -q '"event_time_start":"2026-01-01T00:00:00Z"' "$j" || fail "event time does not start at 08:00 in Shanghai"
"$vigil" bench "${small[@]}" --start-hour 23 --phases inprocess-max --json "$work/h23.json" >"$work/out" 2>&1 \
  || fail "--start-hour 23: rc=$?"
grep -q '"event_time_start":"2026-01-01T15:00:00Z"' "$work/h23.json" || fail "--start-hour 23 did not move event time"
echo "standard bench smoke: ok"
