// Reads a threaded module's split-node states after a run of runs: which
// nodes the run-time decision splits, and its estimates (ns) of either form.
//
//   node states.mjs BIN MODEL_DIR [--min-time S] [--threads N]
//
// The states (codegen/emit_threads.go, nodeStateSize bytes each, reserved
// in node order after the planned memory) are found by their shape: a
// 64-byte-aligned block whose call count is at most the runs made, whose
// mode and decision words are 0 or 1 and whose probe gap is a power of two
// from probeEvery to maxProbeGap. Calls below the runs made are jobs the
// main thread ran alone while backing off after a stall.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";

const args = process.argv.slice(2);
let minTime = 10, threads = 2;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (args[i] === "--threads") threads = parseInt(args[++i]);
  else pos.push(args[i]);
}
const [bin, dir] = pos;
const w = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mlc-states-")), "m.wasm");
execFileSync(bin, ["compile", path.join(dir, "model.onnx"), "-o", w, "--threads", String(threads)], { stdio: ["ignore", "ignore", "ignore"] });
const m = await load(fs.readFileSync(w), { threads });
const times = [];
const t0 = performance.now();
let runs = 0;
while (performance.now() - t0 < minTime * 1000 || runs < 20) {
  const s = performance.now();
  m.invoke();
  times.push(performance.now() - s);
  runs++;
}
const buf = m._memory.buffer;
const i32 = new Int32Array(buf), i64 = new BigInt64Array(buf);
const rows = [];
for (let a = 0; a + 64 <= buf.byteLength; a += 64) {
  const q = a >> 2;
  const calls = i32[q + 6], gap = i32[q + 13];
  if (calls < 1 || calls > runs + 1 || (i32[q + 7] >>> 0) > 1 || (i32[q + 12] >>> 0) > 1) continue;
  if (![16, 32, 64, 128, 256].includes(gap) || i32[q + 14] <= calls - 256 || i32[q + 14] > calls + 256) continue;
  const us = (off) => Number(i64[(a + off) >> 3]) / 1000;
  rows.push({ a, alone: us(0), split: us(8), cpu: us(16), pays: i32[q + 12], gap, calls });
}
const sorted = [...times].sort((x, y) => x - y);
const q = (p) => sorted[Math.floor(p * (sorted.length - 1))].toFixed(1);
console.log(`${path.basename(dir)} ${bin} runs ${runs} min ${q(0)} p10 ${q(0.1)} median ${q(0.5)} p90 ${q(0.9)} ms; load ${os.loadavg()[0].toFixed(2)}`);
let sa = 0, ss = 0, chosen = 0, n = 0;
for (const r of rows) {
  n++;
  sa += r.alone;
  chosen += r.pays ? r.split : r.alone;
  ss += Math.min(r.split, r.alone);
  console.log(`${r.a}\talone ${r.alone.toFixed(0)}\tsplit ${r.split.toFixed(0)}\tcpu ${r.cpu.toFixed(0)}\tsplit/alone ${(r.split / r.alone).toFixed(2)}\tcpu/alone ${(r.cpu / r.alone).toFixed(2)}\tpays ${r.pays}\tgap ${r.gap}\tcalls ${r.calls}`);
}
console.log(`states ${n}, split ${rows.filter((r) => r.pays).length}; sum alone ${(sa / 1000).toFixed(1)} ms, chosen ${(chosen / 1000).toFixed(1)}, best ${(ss / 1000).toFixed(1)}`);
console.log("run times (ms): " + times.map((t) => t.toFixed(0)).join(" "));
await m.close();
