// What one cold start consists of, in a fresh process, for a profiling
// build (mlc compile --profile MODEL.onnx -o FILE):
//
//   node [V8 flags] cold-split.mjs FILE [--touch] [--again]
//
// It loads the bytes as cold.mjs does (the runtime's load(): weights split
// off, the rest compiled, instantiated, weights copied in) and times
// WebAssembly.compile, instantiation and the rest of load() (splitting and
// copying the weights), then the first-run work alone (constants,
// Once nodes: mlc_profile_node past the last node runs only that), then
// every node function once (the first pass: each function's first call, in
// whatever tier V8 has for it) and, after a pause for background
// compilation, once more (the second pass). --touch first writes one byte
// of every 4 KiB page of linear memory from JavaScript and times that: the
// operating system's first-touch cost, which the first pass pays
// otherwise. Compare with --no-liftoff (every function compiled by
// TurboFan on first call) to separate tiering from the rest. Prints one
// JSON line, then the nodes whose first call cost most over their second.

import fs from "node:fs";
import { load } from "../runtime-shim/js/mlc.mjs";
import { sections, customName } from "../runtime-shim/js/wasm-bytes.mjs";

const [file, ...flags] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
let compileMs = 0;
let instantiateMs = 0;
const timed = (f, add) =>
  async function (...args) {
    const a = performance.now();
    const r = await f.apply(WebAssembly, args);
    add(performance.now() - a);
    return r;
  };
const { compile, instantiate } = WebAssembly;
WebAssembly.compile = timed(compile, (t) => (compileMs += t));
WebAssembly.instantiate = timed(instantiate, (t) => (instantiateMs += t));
const t0 = performance.now();
const m = await load(bytes);
const loadMs = performance.now() - t0;
WebAssembly.compile = compile;
WebAssembly.instantiate = instantiate;
const section = profileSection(bytes);
if (!section) throw new Error(`${file}: not a profiling build (mlc compile --profile)`);
const nodes = JSON.parse(new TextDecoder().decode(section));
const ex = m.instance.exports;
let touchMs = 0;
if (flags.includes("--touch")) {
  const a = performance.now();
  const u8 = new Uint8Array(ex.memory.buffer);
  for (let i = 0; i < u8.length; i += 4096) u8[i] = u8[i];
  touchMs = performance.now() - a;
}
const timeCall = (i) => {
  const a = performance.now();
  ex.mlc_profile_node(i);
  return performance.now() - a;
};
const initMs = timeCall(nodes.length); // past the last node: the first-run work only
const first = nodes.map((_, i) => timeCall(i));
await new Promise((r) => setTimeout(r, 300));
const second = nodes.map((_, i) => timeCall(i));
// --again: a second instance (fresh linear memory, the code already tiered
// up): its first pass less the second pass is what fresh pages and cold
// caches cost, the process's first pass less it what V8's tiers cost.
let again = null;
if (flags.includes("--again")) {
  const m2 = await load(bytes);
  const ex2 = m2.instance.exports;
  const call2 = (i) => {
    const a = performance.now();
    ex2.mlc_profile_node(i);
    return performance.now() - a;
  };
  call2(nodes.length);
  again = nodes.map((_, i) => call2(i));
}
const sum = (x) => x.reduce((a, b) => a + b, 0);
const ms = (x) => +x.toFixed(1);
console.log(
  JSON.stringify({
    compileMs: ms(compileMs),
    instantiateMs: ms(instantiateMs),
    placeMs: ms(loadMs - compileMs - instantiateMs),
    touchMs: ms(touchMs),
    initMs: ms(initMs),
    firstPassMs: ms(sum(first)),
    secondPassMs: ms(sum(second)),
    ...(again && { againFirstPassMs: ms(sum(again)) }),
  }),
);
nodes
  .map((n, i) => ({ func: n.func, cls: n.class || n.op, first: first[i], second: again ? again[i] : second[i] }))
  .sort((a, b) => b.first - b.second - (a.first - a.second))
  .slice(0, 8)
  .forEach((r) => console.log(`  ${r.first.toFixed(1).padStart(7)} ms first ${r.second.toFixed(1).padStart(7)} ms ${again ? "again " : "second"}  ${r.cls} ${r.func}`));

// profileSection finds the "mlc.profile" custom section in module bytes.
function profileSection(b) {
  for (const section of sections(b)) {
    if (section.id !== 0) continue;
    const { name, payload } = customName(b, section);
    if (new TextDecoder().decode(name) === "mlc.profile") return b.subarray(payload, section.end);
  }
  return null;
}
