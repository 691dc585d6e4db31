// One-node Conv models timed in V8, builds alternating in this process:
//   node conv-one.mjs "BIN_A;BIN_B" C,H,W,M,k[,stride[,relu 0/1]] ... [--min-time S] [--evict MB]
// (a build is BIN[=flags][@threads], as in ab.mjs: "mlc=--threads 2@2" times the node of a
// threaded module, as its run-time decision runs it, with its helpers started)
// (--evict MB: writes MB of other memory before each run, so that the weights and input
// come from memory as in a whole model, where each node's weights are read once per run)
// (each node function alone: mlc compile --profile, mlc_profile_node)
// prints per case and build min / median ms and GFLOP/s (min).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";
import { convModelOf } from "./onnx.mjs";
const args = process.argv.slice(2);
let minTime = 2;
let evict = 0; // MB written between runs (--evict MB): the weights then come from memory, as in a whole model
const cases = [];
const bins = args[0].split(";").map((v) => {
  const at = v.lastIndexOf("@");
  const threads = at > 0 && /^\d+$/.test(v.slice(at + 1)) ? parseInt(v.slice(at + 1)) : undefined;
  const spec = threads === undefined ? v : v.slice(0, at);
  const eq = spec.indexOf("=");
  return { bin: eq < 0 ? spec : spec.slice(0, eq), flags: eq < 0 ? [] : spec.slice(eq + 1).split(" ").filter(Boolean), threads };
});
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (args[i] === "--evict") evict = parseFloat(args[++i]);
  else cases.push(args[i].split(",").map(Number));
}
const evictBuf = new Uint32Array((evict * (1 << 20)) / 4);
let evictN = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "conv-one-"));
for (const [C, H, W, M, k, s = 1, act = 1] of cases) {
  const pad = (k - 1) >> 1;
  const bytes = convModelOf(C, H, W, M, k, { stride: s, pad, act: act ? "Relu" : null });
  const onnx = path.join(tmp, "m.onnx");
  fs.writeFileSync(onnx, bytes);
  const Ho = Math.floor((H + 2 * pad - k) / s) + 1, Wo = Math.floor((W + 2 * pad - k) / s) + 1;
  const flops = 2 * M * C * k * k * Ho * Wo;
  const ms = [];
  for (const [bi, { bin, flags, threads }] of bins.entries()) {
    const out = path.join(tmp, `m${bi}.wasm`);
    execFileSync(bin, ["compile", "--profile", ...flags, onnx, "-o", out], { stdio: "ignore" });
    const m = await load(fs.readFileSync(out), threads ? { threads } : undefined);
    const x = new Float32Array(C * H * W).map((_, i) => Math.sin(i));
    m.run({ X: x });
    const ex = m.instance.exports;
    ms.push({ m, x, t: [], go: () => ex.mlc_profile_node(0) });
  }
  for (const e of ms) for (let i = 0; i < 5; i++) e.go();
  const t0 = performance.now();
  while (performance.now() - t0 < minTime * 1000)
    for (const e of ms) {
      if (evict) evictBuf.fill(++evictN);
      const a = performance.now();
      e.go();
      e.t.push(performance.now() - a);
    }
  const line = ms.map((e, i) => {
    e.t.sort((a, b) => a - b);
    const mn = e.t[0], md = e.t[e.t.length >> 1];
    return `${i}: ${mn.toFixed(3)}/${md.toFixed(3)} ms ${(flops / mn / 1e6).toFixed(1)} GF/s`;
  });
  console.log(`${C},${H},${W},${M},k${k},s${s}: ${line.join("  ")}${ms.length > 1 ? `  ratio(min) ${(ms[1].t[0] / ms[0].t[0]).toFixed(3)}` : ""}`);
  for (const e of ms) await e.m.close?.();
}
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
