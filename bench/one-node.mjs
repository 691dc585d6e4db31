// One-node models of the depthwise and head shapes, each compiled by every
// binary given and timed alternating in this process (V8): minimum and
// median ms, GFLOP/s by the minimum. BIN@NAME=value sets the compiler's
// environment for that variant.
//
//   node one-node.mjs BIN_A,BIN_B[@ENV=v] MIN_SECONDS [case ...]

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "../runtime-shim/js/mlc.mjs";
import { convModelOf } from "./onnx.mjs";

const [bins, minTime, ...names] = [process.argv[2].split(","), parseFloat(process.argv[3]), ...process.argv.slice(4)];
// name: channels, height, stride, width, pads [top, left, bottom, right], output channels, kernel
const cases = {
  s2_96_112: [96, 112, 2], s2_144_56: [144, 56, 2], s2_192_28: [192, 28, 2], s2_576_14: [576, 14, 2],
  // a band of 16 input rows of the 112x112 layer: what a producer/consumer fusion would hand it, in L2
  band_96_16x112: [96, 16, 2, 112, [1, 1, 0, 1]],
  s1_144_56: [144, 56, 1], s1_32_112: [32, 112, 1], s1_192_28: [192, 28, 1], s1_576_14: [576, 14, 1],
  head_16_512: [16, 512, 1, 512, [0, 0, 0, 0], 1, 1],
  // the 112x112 expansion 1x1 before it, whole and as a band of 16 rows
  pw_16_112_m96: [16, 112, 1, 112, [0, 0, 0, 0], 96, 1], pw_band_16_16x112_m96: [16, 16, 1, 112, [0, 0, 0, 0], 96, 1],
};
const quant = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-one-node-"));
for (const name of names.length ? names : Object.keys(cases)) {
  const [C, H, s, W = H, pads = [1, 1, 1, 1], M = C, k = 3] = cases[name];
  const onnx = path.join(tmp, `${name}.onnx`);
  const depthwise = M === C;
  fs.writeFileSync(onnx, convModelOf(C, H, W, M, k, { stride: s, pads, group: depthwise ? C : 1, act: depthwise ? "Clip6" : null }));
  const Ho = Math.floor((H + pads[0] + pads[2] - k) / s) + 1;
  const Wo = Math.floor((W + pads[1] + pads[3] - k) / s) + 1;
  const flops = 2 * M * (depthwise ? 1 : C) * k * k * Ho * Wo;
  const models = [];
  for (const [i, b] of bins.entries()) {
    const [bin, ev] = b.split("@");
    const env = { ...process.env };
    if (ev) env[ev.split("=")[0]] = ev.split("=")[1];
    const w = path.join(tmp, `${name}.${i}.wasm`);
    execFileSync(bin, ["compile", onnx, "-o", w], { env, stdio: ["ignore", "ignore", "inherit"] });
    const m = await load(fs.readFileSync(w));
    m.invoke();
    models.push(m);
  }
  const ts = models.map(() => []);
  const began = performance.now();
  let warm = true;
  while (warm || performance.now() - began < minTime * 1e3 * models.length) {
    if (warm && performance.now() - began > 500) {
      warm = false;
      ts.forEach((t) => (t.length = 0));
    }
    models.forEach((m, i) => {
      const t0 = performance.now();
      m.invoke();
      ts[i].push(performance.now() - t0);
    });
  }
  const cells = ts.map((t, i) => `${i}: min ${quant(t, 0).toFixed(4)} med ${quant(t, 0.5).toFixed(4)} ms ${(flops / quant(t, 0) / 1e6).toFixed(1)} GF/s`);
  console.log(name.padEnd(15), cells.join(" | "));
}
fs.rmSync(tmp, { recursive: true, force: true });
