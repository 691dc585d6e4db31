#!/bin/bash
# Where one cold start's time goes, by code tier: a fresh process
# (cold.mjs) sampled by perf's software clock (no PMU needed), only the
# samples between bytes in memory and the first result, of the thread
# that ran the model, grouped into V8's optimized code (turbofan), its
# baseline code (liftoff: functions not yet tiered up), the kernel (first
# touch of pages), libc's memmove/memset (memory.copy/fill, copies in and
# out) and the rest (V8's decoder and compilers, the runtime's JavaScript):
#
#   bench/cold-perf.sh MODEL_DIR FILE.wasm [TOP]
#
# prints those ms (at 4 kHz) and the TOP (default 8) symbols of each group.
set -e
dir=$(realpath "$1"); wasm=$(realpath "$2"); top=${3:-8}
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
MLC_COLD_MARK=1 perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F 4000 -o perf.data node --perf-basic-prof "$here/cold.mjs" mlc "$dir" "$wasm" >out 2>err
pid=$(perf script -i perf.data -F pid 2>/dev/null | head -1 | tr -d ' ')
trap 'rm -rf "$tmp" "/tmp/perf-$pid.map"' EXIT # the JIT symbols node wrote for perf
cat out
read -r _ t0 t1 < <(grep '^mark ' err)
perf script -i perf.data -F tid,time,ip,sym,dso 2>/dev/null | T0=$t0 T1=$t1 TOP=$top python3 -c '
import os, re, sys, collections
t0, t1, top = int(os.environ["T0"]) / 1e9, int(os.environ["T1"]) / 1e9, int(os.environ["TOP"])
samples = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s+[0-9a-f]+\s+(.*?)\s*\(([^()]*)\)\s*$", line)
    if m and t0 <= float(m.group(2)) <= t1:
        sym = m.group(3) or "[unknown]"
        samples[(m.group(1), "[k] " + sym if "kernel" in m.group(4) else sym)] += 1
threads = collections.Counter()
for (tid, _), n in samples.items():
    threads[tid] += n
main = threads.most_common(1)[0][0]
def group(sym):
    if sym.endswith("-liftoff"): return "liftoff"
    if sym.endswith("-turbofan"): return "turbofan"
    if re.search(r"mem(move|set|cpy)", sym): return "libc mem"
    if sym.startswith("[k] "): return "kernel"
    return "other"
groups = collections.defaultdict(collections.Counter)
for (tid, sym), n in samples.items():
    if tid == main: groups[group(sym)][sym] += n
print("window %.0f ms; the model thread, ms: %s" % ((t1 - t0) * 1e3, ", ".join("%s %.0f" % (g, sum(c.values()) / 4) for g, c in sorted(groups.items(), key=lambda kv: -sum(kv[1].values())))))
for g, c in groups.items():
    print("  %s: %s" % (g, "; ".join("%s %.1f" % (s[:70], n / 4) for s, n in c.most_common(top))))
'
