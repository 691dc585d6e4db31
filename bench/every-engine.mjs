// The default module on every engine: V8 (this process), wazero (mlc
// bench) and wasmtime (bench/wasmtime), for the "fast on every engine"
// check of issue 10 (wazero within 1.3x of V8).
//
//   node every-engine.mjs [--mlc BIN] [--compile-flags "..."] [--rounds N]
//                         [--runs N] MODEL_DIR|MODEL.onnx ...
//
// Each round times every engine in turn (V8 in process, the others in a
// child process each), so that a busy machine's load falls on all of
// them; per engine the minimum over all runs is reported, the steadiest
// figure when other jobs share the cores.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../runtime-shim/js/mlc.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const opt = { mlc: null, flags: "", rounds: 3, runs: 5, wasmtime: null, models: [] };
{
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    if (k === "--mlc") opt.mlc = v[++i];
    else if (k === "--compile-flags") opt.flags = v[++i];
    else if (k === "--rounds") opt.rounds = parseInt(v[++i]);
    else if (k === "--runs") opt.runs = parseInt(v[++i]);
    else if (k === "--wasmtime") opt.wasmtime = v[++i];
    else if (k.startsWith("--")) throw new Error(`unknown flag ${k}`);
    else opt.models.push(k);
  }
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-engines-"));
if (!opt.mlc) {
  opt.mlc = path.join(tmp, "mlc");
  execFileSync("go", ["build", "-o", opt.mlc, "./cmd/mlc"], { cwd: repo, stdio: "inherit" });
}
if (!opt.wasmtime) {
  opt.wasmtime = path.join(tmp, "wasmtime-bench");
  execFileSync("go", ["build", "-o", opt.wasmtime, "."], { cwd: path.join(here, "wasmtime"), stdio: "inherit" });
}
const toMs = (v, u) => parseFloat(v) * { µs: 1e-3, ms: 1, s: 1e3 }[u];

for (const arg of opt.models) {
  const model = fs.statSync(arg).isDirectory() ? path.join(arg, "model.onnx") : arg;
  const name = path.basename(fs.statSync(arg).isDirectory() ? arg : path.dirname(arg));
  const wasmPath = path.join(tmp, name + ".wasm");
  execFileSync(opt.mlc, ["compile", model, "-o", wasmPath, ...opt.flags.split(" ").filter(Boolean)], { stdio: ["ignore", "ignore", "inherit"] });
  const m = await load(fs.readFileSync(wasmPath));
  m.invoke();
  const best = { v8: Infinity, wazero: Infinity, wasmtime: Infinity };
  for (let r = 0; r < opt.rounds; r++) {
    for (let i = 0; i < opt.runs; i++) {
      const t0 = performance.now();
      m.invoke();
      best.v8 = Math.min(best.v8, performance.now() - t0);
    }
    const wz = spawnSync(opt.mlc, ["bench", "--runs", String(opt.runs), "--min-time", "0s", wasmPath], { encoding: "utf8" });
    const a = /min ([\d.]+)(µs|ms|s)/.exec(wz.stdout || "");
    if (a) best.wazero = Math.min(best.wazero, toMs(a[1], a[2]));
    const wt = spawnSync(opt.wasmtime, ["-runs", String(opt.runs), "-min-time", "0s", wasmPath], { encoding: "utf8" });
    const b = /min ([\d.]+)(µs|ms|s)/.exec(wt.stdout || "");
    if (b) best.wasmtime = Math.min(best.wasmtime, toMs(b[1], b[2]));
  }
  const f = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
  console.log(`| ${name}${opt.flags ? ` (${opt.flags})` : ""} | ${f(best.v8)} | ${f(best.wazero)} | ${f(best.wasmtime)} | ${(best.wazero / best.v8).toFixed(2)} | ${(best.wasmtime / best.v8).toFixed(2)} |`);
}
fs.rmSync(tmp, { recursive: true, force: true });
