// Compares the run time of mlc modules in one Node process (V8), e.g. a
// float module and its int8 quantization:
//
//   node bench/int8-speed.mjs model.f32.wasm model.int8.wasm [--runs N]
//
// Each module gets the same deterministic input; modules are timed in
// alternating rounds so that machine load affects them alike, modules
// faster than 5 ms several times per sample. Prints the
// median and minimum per module, its size, and each module's ratio to the
// first one.
import { readFileSync, statSync } from "node:fs";
import { load, arrayTypeOf } from "../runtime-shim/js/mlc.mjs";

const args = process.argv.slice(2);
let runs = 20;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error("usage: node bench/int8-speed.mjs A.wasm [B.wasm ...] [--runs N]");
  process.exit(2);
}

function feedsFor(model) {
  const feeds = {};
  let seed = 1;
  for (const t of model.inputs) {
    const Arr = arrayTypeOf(t.dtype);
    const n = t.bytes / Arr.BYTES_PER_ELEMENT;
    const a = new Arr(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = Arr === Float32Array || Arr === Float64Array ? seed / 4294967296 : 0;
    }
    feeds[t.name] = a;
  }
  return feeds;
}

const models = [];
for (const f of files) {
  const m = await load(readFileSync(f));
  const feeds = feedsFor(m);
  for (const name of Object.keys(feeds)) m.setInput(name, feeds[name]);
  m.invoke(); // warm up: tier-up and first touch of memory
  const t0 = performance.now();
  m.invoke();
  // fast modules run several times per sample, for the timer's resolution
  const batch = Math.max(1, Math.ceil(5 / Math.max(performance.now() - t0, 1e-3)));
  models.push({ file: f, m, times: [], size: statSync(f).size, batch });
}
for (let r = 0; r < runs; r++) {
  for (const x of models) {
    const t0 = performance.now();
    for (let i = 0; i < x.batch; i++) x.m.invoke();
    x.times.push((performance.now() - t0) / x.batch);
  }
}
const median = (a) => a.slice().sort((p, q) => p - q)[a.length >> 1];
const base = models[0];
for (const x of models) {
  const med = median(x.times), mn = Math.min(...x.times);
  const speed = median(base.times) / med;
  console.log(`${x.file}: ${(x.size / 1048576).toFixed(2)} MiB (${(x.size / base.size).toFixed(3)}x), median ${med.toFixed(3)} ms, min ${mn.toFixed(3)} ms, speed-up ${speed.toFixed(2)}x`);
}
