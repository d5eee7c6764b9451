#!/usr/bin/env python3
"""What was live at one heaptrack recording's end and not at another's, by owner and by stack.

    bench/heap_diff.py BEFORE.stacks AFTER.stacks

Each file is `heaptrack_print -f REC.zst --flamegraph-cost-type leaked -F FILE`: one line per
stack, its frames and the bytes it left allocated. bench/reload_heap_diff.sh makes the two from
the reload bench stopped at two samples, so "leaked" there is "live at the sample".
"""
import collections, re, sys

# Owners, first match wins: RocksDB's background work before the rest of RocksDB, the reload
# path before the rule evaluation that runs on every record.
OWNERS = [
    ("RocksDB flush (table readers of new files)", ("FlushJob",)),
    ("RocksDB compaction (table readers of new files)", ("CompactionJob",)),
    ("RocksDB, other", ("rocksdb::",)),
    ("rule sets and reloads", ("ShardCore::reload", "Engine::reload", "load_rule_dir",
                               "RuleSet::RuleSet", "reload_in_place")),
    ("outbox: pending outputs' buffers (capacity kept between commits)", ("OwnerSink::emit",)),
    ("dispatcher: orders and their history", ("dispatch::Dispatcher",)),
    ("alarm book: alarms", ("alarm::AlarmBook",)),
    ("elder state (rule slots, registry)", ("registry::", "rules::RuleEngine")),
    ("ring slots (record copies)", ("copy_to_slot", "reserve_slot")),
    ("the bench's own records", ("bench::",)),
]

def load(path):
    stacks = collections.Counter()
    for line in open(path):
        frames, _, cost = line.rstrip("\n").rpartition(" ")
        stacks[re.sub(r"0x[0-9a-f]+;?", "", frames)] += int(cost)
    return stacks

def owner(stack):
    for name, marks in OWNERS:
        if any(m in stack for m in marks):
            return name
    return "other"

def where(stack, depth=3):
    frames = [f.split(" (")[0] for f in stack.split(";") if "vigil::" in f or "rocksdb::" in f]
    return " <- ".join(f[:90] for f in reversed(frames[-depth:])) or stack[-200:]

before, after = load(sys.argv[1]), load(sys.argv[2])
diff = {s: after[s] - before[s] for s in set(before) | set(after)}
by_owner = collections.Counter()
for s, d in diff.items():
    by_owner[owner(s)] += d
print(f"\nlive at the warm-up's sample {sum(before.values()):,} B, at the last {sum(after.values()):,} B:"
      f" {sum(diff.values()):+,} B")
print(f"\n{'bytes':>10}  owner")
for name, d in sorted(by_owner.items(), key=lambda x: -abs(x[1])):
    print(f"{d:>+10,}  {name}")
print(f"\n{'bytes':>10}  largest stacks (innermost project frames first)")
for s, d in sorted(diff.items(), key=lambda x: -abs(x[1]))[:15]:
    print(f"{d:>+10,}  {where(s)}")
