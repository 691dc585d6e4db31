// What one cold start consists of, in a fresh process, for a profiling
// build (mlc compile --profile MODEL.onnx -o FILE):
//
//   node [V8 flags] cold-split.mjs FILE [--touch]
//
// It times WebAssembly.compile, instantiation, the first-run work alone
// (constants copied in, Once nodes: mlc_profile_node past the last node
// runs only that), then every node function once (the first pass: each
// function's first call, in whatever tier V8 has for it) and, after a
// pause for background compilation, once more (the second pass). --touch
// first writes one byte of every 4 KiB page of linear memory from
// JavaScript and times that: the operating system's first-touch cost,
// which the first pass pays otherwise. Compare with --no-liftoff (every
// function compiled by TurboFan on first call) to separate tiering from
// the rest. Prints one JSON line, then the nodes whose first call cost
// most over their second.

import fs from "node:fs";
import { load } from "../runtime-shim/js/mlc.mjs";

const [file, ...flags] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
const t0 = performance.now();
const mod = await WebAssembly.compile(bytes);
const t1 = performance.now();
const section = WebAssembly.Module.customSections(mod, "mlc.profile");
if (section.length === 0) throw new Error(`${file}: not a profiling build (mlc compile --profile)`);
const nodes = JSON.parse(new TextDecoder().decode(section[0]));
const m = await load(mod);
const t2 = performance.now();
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
const sum = (x) => x.reduce((a, b) => a + b, 0);
const ms = (x) => +x.toFixed(1);
console.log(JSON.stringify({ compileMs: ms(t1 - t0), instantiateMs: ms(t2 - t1), touchMs: ms(touchMs), initMs: ms(initMs), firstPassMs: ms(sum(first)), secondPassMs: ms(sum(second)) }));
nodes
  .map((n, i) => ({ func: n.func, cls: n.class || n.op, first: first[i], second: second[i] }))
  .sort((a, b) => b.first - b.second - (a.first - a.second))
  .slice(0, 5)
  .forEach((r) => console.log(`  ${r.first.toFixed(1).padStart(7)} ms first ${r.second.toFixed(1).padStart(7)} ms second  ${r.cls} ${r.func}`));
