// Cold starts of several builds of one model, alternating fresh processes
// (cold.mjs), so that the machine's load falls on all of them alike:
//
//   node cold-ab.mjs [--pairs N] MODEL_DIR LABEL=FILE[@BENCH_DIR] ...
//
// FILE is a module of the model; BENCH_DIR (default: this folder) is the
// bench folder whose cold.mjs (and so whose runtime, ../runtime-shim/js)
// loads it, to compare runtimes. A FILE ending in ",noprefault" is loaded
// without the helper thread that touches memory's pages first
// (MLC_PREFAULT=0). A FILE ending in .onnx is run by ONNX
// Runtime Web instead (cold.mjs ort), so that issue 10's cold-start ratio
// can be taken from alternating processes: ORT-web's own cold start moved
// 2.4-7.9 s between bench.mjs runs on a loaded 2-core machine. Prints, per
// build, the wall-clock and CPU milliseconds from bytes in memory to the
// first result, min and median, and the median over rounds of its time
// over the first build's in the same round (paired).

import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let pairs = 5;
if (args[0] === "--pairs") {
  pairs = parseInt(args[1]);
  args.splice(0, 2);
}
const [dir, ...specs] = args;
const builds = specs.map((s) => {
  const [label, rest] = s.split(/=(.*)/s);
  const [file, bench = here] = rest.split("@");
  return { label, file, bench, ms: [], cpu: [] };
});
for (let i = 0; i < pairs; i++) {
  for (const b of i % 2 ? [...builds].reverse() : builds) {
    const engine = b.file.endsWith(".onnx") ? "ort" : "mlc";
    const off = b.file.endsWith(",noprefault");
    const file = off ? b.file.slice(0, -",noprefault".length) : b.file;
    const env = off ? { ...process.env, MLC_PREFAULT: "0" } : process.env;
    const r = spawnSync(process.execPath, [path.join(b.bench, "cold.mjs"), engine, dir, file], { encoding: "utf8", env });
    if (r.status !== 0) throw new Error(`${b.label}: ${r.stderr}`);
    const o = JSON.parse(r.stdout.trim().split("\n").pop());
    b.ms.push(o.ms);
    b.cpu.push(o.cpuMs);
  }
}
const median = (x) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x) => x.toFixed(0);
console.log(`${path.basename(dir)}: ${pairs} processes each, alternating`);
for (const b of builds) {
  const paired = median(b.ms.map((t, i) => t / builds[0].ms[i])).toFixed(3);
  console.log(`  ${b.label.padEnd(10)} wall min ${f(Math.min(...b.ms))} median ${f(median(b.ms))} ms, CPU median ${b.cpu[0] === undefined ? "?" : f(median(b.cpu))} ms, paired / ${builds[0].label} ${paired}  [${b.ms.map(f).join(" ")}]`);
}
