// A/B of mlc builds in V8: every variant compiles each model, and their
// modules' runs alternate in this one process; prints each variant's
// minimum, median and process CPU time per run, and the ratios to the
// first variant.
//
//   node ab.mjs VARIANT VARIANT [VARIANT ...] [--min-time S] [--busy] [--gap MS] MODEL_DIR|MODEL.onnx ...
//
// A variant is BIN[=flags][@threads]: the mlc binary, the compile flags
// (default none) and the threads to load a threaded module with (default:
// as many as the module was compiled for, at most the machine's), e.g.
//
//   node ab.mjs "mlc=--threads 2@2" "mlc=--threads 2@1" mlc ../../shared/models/resnet18
//
// "paired / A" is the median over rounds of a run's time over variant A's in
// the same round: on a shared machine whose load changes from second to
// second it spreads less than the ratio of medians.
//
// CPU is process.cpuUsage() (user + system, every thread of the process,
// helper threads included) around each run; its mean per run is reported.
// --busy keeps a CPU-bound process running beside the measurement (with two
// cores: the other core busy). --gap MS idles that long before every timed
// run, as bench.mjs does with --threads (a threaded module's workers then
// start each run asleep, their cores idle).

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";

const args = process.argv.slice(2);
let minTime = 2;
let busy = false;
let gap = 0;
const variants = [];
const models = [];
const isModel = (a) => a.endsWith(".onnx") || (fs.existsSync(a) && fs.statSync(a).isDirectory());
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (args[i] === "--busy") busy = true;
  else if (args[i] === "--gap") gap = parseFloat(args[++i]);
  else if (args[i].startsWith("--")) throw new Error(`unknown flag ${args[i]}`);
  else if (models.length === 0 && !isModel(args[i])) variants.push(args[i]);
  else models.push(args[i]);
}
if (variants.length < 1 || models.length < 1) {
  console.error("usage: node ab.mjs BIN[=flags][@threads] ... [--min-time S] [--busy] [--gap MS] MODEL_DIR|MODEL.onnx ...");
  process.exit(2);
}
const parse = (v) => {
  const at = v.lastIndexOf("@");
  const threads = at > 0 && /^\d+$/.test(v.slice(at + 1)) ? parseInt(v.slice(at + 1)) : undefined;
  const spec = threads === undefined ? v : v.slice(0, at);
  const eq = spec.indexOf("=");
  return { bin: eq < 0 ? spec : spec.slice(0, eq), flags: eq < 0 ? "" : spec.slice(eq + 1), threads };
};
const vs = variants.map(parse);
if (busy) {
  const p = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  p.unref();
  process.on("exit", () => p.kill());
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-ab-"));
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
const f = (x) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
vs.forEach((v, i) => console.log(`${String.fromCharCode(65 + i)}: ${v.bin}${v.flags ? ` ${v.flags}` : ""}${v.threads ? ` (${v.threads} threads)` : ""}`));
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}${busy ? ", a busy process beside" : ""}${gap > 0 ? `, ${gap} ms idle before every run` : ""}`);
console.log("| model | variant | min ms | median ms | CPU ms/run | min / A | median / A | paired / A | CPU / A |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
for (const arg of models) {
  const model = fs.statSync(arg).isDirectory() ? path.join(arg, "model.onnx") : arg;
  const name = path.basename(fs.statSync(arg).isDirectory() ? arg : path.dirname(arg));
  const ms = [];
  for (const [i, v] of vs.entries()) {
    const w = path.join(tmp, `${name}.${i}.wasm`);
    execFileSync(v.bin, ["compile", model, "-o", w, ...v.flags.split(" ").filter(Boolean)], { stdio: "ignore" });
    const m = await load(fs.readFileSync(w), v.threads ? { threads: v.threads } : {});
    m.invoke();
    ms.push(m);
  }
  const ts = ms.map(() => []);
  const cpu = ms.map(() => 0);
  const began = performance.now();
  while (performance.now() - began < 300) ms.forEach((m) => m.invoke());
  const t1 = performance.now();
  while (performance.now() - t1 < minTime * 1e3 || ts[0].length < 10) {
    for (const [i, m] of ms.entries()) {
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      m.invoke();
      ts[i].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i] += (c.user + c.system) / 1e3;
    }
  }
  const rows = ts.map((t, i) => ({ min: q(t, 0), med: q(t, 0.5), cpu: cpu[i] / t.length }));
  // paired: the median over rounds of a run's time over variant A's in the
  // same round, which load that changes from second to second moves less.
  const paired = ts.map((t) => q(t.map((x, j) => x / ts[0][j]), 0.5));
  rows.forEach((r, i) => {
    const a = rows[0];
    const ratio = (x, y) => (x / y).toFixed(2);
    console.log(`| ${name} | ${String.fromCharCode(65 + i)} | ${f(r.min)} | ${f(r.med)} | ${f(r.cpu)} | ${ratio(r.min, a.min)} | ${ratio(r.med, a.med)} | ${paired[i].toFixed(2)} | ${ratio(r.cpu, a.cpu)} |`);
  });
  for (const m of ms) if (m.close) await m.close();
}
fs.rmSync(tmp, { recursive: true, force: true });
