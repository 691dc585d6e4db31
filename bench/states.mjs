// Reads a threaded module's split-node states after a run of runs: which
// nodes the run-time decision splits, and its estimates (ns) of either form.
//
//   node states.mjs BIN MODEL_DIR [--min-time S] [--threads N] [--gap MS] [--runs N]
//
// --gap MS idles that long before every run, as bench.mjs does with --threads.
//
// node-states.mjs finds the states in memory.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";
import { printStates, readStates } from "./node-states.mjs";

const args = process.argv.slice(2);
let minTime = 10, threads = 2, gap = 0, minRuns = 20;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (args[i] === "--threads") threads = parseInt(args[++i]);
  else if (args[i] === "--gap") gap = parseFloat(args[++i]);
  else if (args[i] === "--runs") minRuns = parseInt(args[++i]);
  else pos.push(args[i]);
}
const [bin, dir] = pos;
const w = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mlc-states-")), "m.wasm");
execFileSync(bin, ["compile", path.join(dir, "model.onnx"), "-o", w, "--threads", String(threads)], { stdio: ["ignore", "ignore", "ignore"] });
const m = await load(fs.readFileSync(w), { threads });
const times = [];
const t0 = performance.now();
let runs = 0;
while (performance.now() - t0 < minTime * 1000 || runs < minRuns) {
  if (gap > 0) await new Promise((r) => setTimeout(r, gap));
  const s = performance.now();
  m.invoke();
  times.push(performance.now() - s);
  runs++;
}
const rows = readStates(m._memory.buffer, runs);
const sorted = [...times].sort((x, y) => x - y);
const q = (p) => sorted[Math.floor(p * (sorted.length - 1))].toFixed(1);
console.log(`${path.basename(dir)} ${bin} runs ${runs} min ${q(0)} p10 ${q(0.1)} median ${q(0.5)} p90 ${q(0.9)} ms; load ${os.loadavg()[0].toFixed(2)}`);
printStates(rows);
console.log("run times (ms): " + times.map((t) => t.toFixed(0)).join(" "));
await m.close();
