// A/B of two mlc builds in V8: both compile each model (default flags
// unless given after "="), and their modules' runs alternate in this one
// process; prints the minimum and median of each and B/A.
//
//   node ab.mjs A_BIN[=flags] B_BIN[=flags] [--min-time S] MODEL_DIR|MODEL.onnx ...

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";

const args = process.argv.slice(2);
let minTime = 2;
const bins = [];
const models = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (bins.length < 2) bins.push(args[i]);
  else models.push(args[i]);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-ab-"));
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
console.log("| model | A min ms | B min ms | B/A (min) | A median | B median | B/A (median) |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const arg of models) {
  const model = fs.statSync(arg).isDirectory() ? path.join(arg, "model.onnx") : arg;
  const name = path.basename(fs.statSync(arg).isDirectory() ? arg : path.dirname(arg));
  const ms = [];
  for (const [i, b] of bins.entries()) {
    const [bin, flags = ""] = b.split("=");
    const w = path.join(tmp, `${name}.${i}.wasm`);
    execFileSync(bin, ["compile", model, "-o", w, ...flags.split(" ").filter(Boolean)], { stdio: "ignore" });
    const m = await load(fs.readFileSync(w));
    m.invoke();
    ms.push(m);
  }
  const ts = [[], []];
  const began = performance.now();
  while (performance.now() - began < 300) ms.forEach((m) => m.invoke());
  const t1 = performance.now();
  while (performance.now() - t1 < minTime * 1e3 || ts[0].length < 10) {
    ms.forEach((m, i) => {
      const t0 = performance.now();
      m.invoke();
      ts[i].push(performance.now() - t0);
    });
  }
  const f = (x) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
  const [a0, b0, a5, b5] = [q(ts[0], 0), q(ts[1], 0), q(ts[0], 0.5), q(ts[1], 0.5)];
  console.log(`| ${name} | ${f(a0)} | ${f(b0)} | ${(b0 / a0).toFixed(2)} | ${f(a5)} | ${f(b5)} | ${(b5 / a5).toFixed(2)} |`);
}
fs.rmSync(tmp, { recursive: true, force: true });
