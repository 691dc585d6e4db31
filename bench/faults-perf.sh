#!/bin/bash
# The first run's page faults by thread and by mapping: faults.mjs in a
# fresh process under perf (a software event, no PMU needed), the faults
# between the first run's ends only, grouped by thread id and by the
# mapping of /proc/self/maps they fell in (the Wasm memory is the rw-p
# anonymous mapping of its size; V8's compiler zones are the small ones):
#
#   bench/faults-perf.sh MODEL_DIR FILE.wasm
set -e
dir=$(realpath "$1"); wasm=$(realpath "$2")
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
MAPS="$tmp/maps" perf record -q -k CLOCK_MONOTONIC -e page-faults -c 1 -d -o pf.data node "$here/faults.mjs" "$dir" "$wasm" 2>err >out
cat out
read -r _ t0 t1 < <(grep '^mark ' err)
perf script -i pf.data -F tid,time,addr 2>/dev/null | T0=$t0 T1=$t1 MAPS="$tmp/maps" python3 -c '
import os, re, sys, collections
t0, t1 = int(os.environ["T0"]) / 1e9, int(os.environ["T1"]) / 1e9
maps = []
for l in open(os.environ["MAPS"]):
    f = l.split()
    a, b = [int(x, 16) for x in f[0].split("-")]
    maps.append((a, b, f[1], f[5] if len(f) > 5 else "anon"))
def region(x):
    for a, b, perm, name in maps:
        if a <= x < b:
            return "%s %s %.1f MB" % (perm, name, (b - a) / 1e6)
    return "?"
by = collections.Counter()
for l in sys.stdin:
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s+([0-9a-f]+)", l)
    if m and t0 <= float(m.group(2)) <= t1:
        by[(m.group(1), region(int(m.group(3), 16)))] += 1
print("first run: faults by thread and mapping")
for (tid, r), n in by.most_common(12):
    print("%8d  thread %s  %s" % (n, tid, r))
'
