#!/usr/bin/env bash
# The figures a stop's closing note takes for issues 10 and 11, in one run
# (about 10 minutes on 2 cores; run it with nothing else on the machine):
#
#   bench/stop-figures.sh MLC_BIN OUTDIR
#
# 1 thread against ORT-web on the large models (latency, cold start, linear
# memory), every engine, two threads back to back and in bench.mjs's harness
# (idle gap, ORT-web numThreads 2), the same beside a CPU hog, relaxed SIMD,
# memory in fresh processes and the compiler's time and peak RSS. Each step
# writes OUTDIR/STEP.txt; OUTDIR/log has each step's start time and load.
set -u
BIN=$(realpath "$1"); OUT=$(realpath -m "$2"); mkdir -p "$OUT"
cd "$(dirname "$0")"
SHARED=${MLC_SHARED:-$(realpath ../../shared)}
M=$SHARED/models
SMALL=resnet18,mobilenet_v2,squeezenet1_1,shufflenet_v2_x1_0,resnet50,unet_1024,tiny_transformer
log() { echo "== $(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $*" | tee -a "$OUT/log"; }
log large
MLC_SHARED=$SHARED node bench.mjs --mlc "$BIN" --only resnet50,unet_1024,unet_1024_fp16 --min-time 3 --cold 5 --json "$OUT/large.json" --md "$OUT/large.md" > "$OUT/large.txt" 2>&1
log engines
node every-engine.mjs --mlc "$BIN" "$M/resnet50" "$M/unet_1024" "$M/unet_1024_fp16" > "$OUT/engines.txt" 2>&1
log threads-ab
node ab.mjs "$BIN" "$BIN=--threads 2@2" --min-time 10 "$M"/{mobilenet_v2,squeezenet1_1,shufflenet_v2_x1_0,tiny_transformer,resnet18,resnet50,unet_1024} > "$OUT/threads-ab.txt" 2>&1
log harness
MLC_SHARED=$SHARED node bench.mjs --mlc "$BIN" --threads 2 --only $SMALL --no-kernels --min-time 3 --cold 1 --json "$OUT/harness.json" --md "$OUT/harness.md" > "$OUT/harness.txt" 2>&1
log busy
MLC_SHARED=$SHARED node bench.mjs --mlc "$BIN" --threads 2 --busy --only $SMALL --no-kernels --min-time 3 --cold 1 --json "$OUT/busy.json" --md "$OUT/busy.md" > "$OUT/busy.txt" 2>&1
log relaxed
node --experimental-wasm-relaxed-simd ab.mjs "$BIN" "$BIN=--relaxed-simd" --min-time 5 "$M/resnet18" "$M/mobilenet_v2" > "$OUT/relaxed.txt" 2>&1
log memory
for m in resnet50 unet_1024 unet_1024_fp16; do
  "$BIN" compile "$M/$m/model.onnx" -o "$OUT/$m.wasm" > /dev/null 2>&1
  /usr/bin/time -v "$BIN" compile "$M/$m/model.onnx" -o "$OUT/compile-again.wasm" > /dev/null 2> "$OUT/time-$m.txt"
  node --expose-gc rss.mjs --path mlc "$M/$m" "$OUT/$m.wasm" "$OUT/$m.wasm" > "$OUT/rss-mlc-$m.txt" 2>&1
  node --expose-gc rss.mjs ort "$M/$m" "$M/$m/model.onnx" > "$OUT/rss-ort-$m.txt" 2>&1
done
log done
