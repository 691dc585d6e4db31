// Kernel speed per layer class on every engine: single-node models of each
// kind of work (1x1 conv, Winograd-sized 3x3, direct 3x3, depthwise by
// stride, dilated, GEMM, GEMV, pooling), compiled with each set of flags,
// timed in V8 (this process, the variants' runs alternating) and on wazero
// (`mlc bench`), reported as GFLOP/s and % of the machine's SIMD128 GEMM
// ceiling: measure it with tiles.mjs and pass it as --ceiling (the default,
// 33, was the machine of docs/benchmarks.md's earlier sections; the Zen 5
// machine of the later ones reaches 50).
//
//   node kernels.mjs [--mlc BIN] [--variants "--tune v8;--tune wazero;"]
//                    [--engines v8,wazero] [--only a,b] [--min-time S]
//                    [--ceiling GFLOPS]
//
// A variant is a string of mlc compile flags; "" is the default module.
// Times are the minimum and the median over the runs (the minimum is the
// steadier on a busy machine).

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../runtime-shim/js/mlc.mjs";
import { convModelOf, matmulModel, maxPoolModel } from "./onnx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const opt = { mlc: null, variants: ["--tune v8", "--tune wazero"], engines: ["v8", "wazero"], only: null, minTime: 1, ceiling: 33.0 };
{
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    if (k === "--mlc") opt.mlc = v[++i];
    else if (k === "--variants") opt.variants = v[++i].split(";").map((s) => s.trim());
    else if (k === "--engines") opt.engines = v[++i].split(",");
    else if (k === "--only") opt.only = v[++i].split(",");
    else if (k === "--min-time") opt.minTime = parseFloat(v[++i]);
    else if (k === "--ceiling") {
      opt.ceiling = parseFloat(v[++i]);
      if (!(opt.ceiling > 0)) throw new Error("--ceiling takes the machine's GFLOP/s, a positive number");
    } else throw new Error(`unknown flag ${k}`);
  }
}

// name, class, ONNX bytes, input dims, FLOPs (multiply and add as 2).
function conv(name, cls, C, H, M, k, o = {}) {
  const s = o.stride || 1;
  const d = o.dilation || 1;
  const pad = o.pad ?? ((k - 1) * d) / 2;
  const Ho = Math.floor((H + 2 * pad - d * (k - 1) - 1) / s) + 1;
  const g = o.group || 1;
  return { name, cls, bytes: convModelOf(C, H, H, M, k, { ...o, pad }), dims: [1, C, H, H], flops: 2 * M * (C / g) * k * k * Ho * Ho };
}
const CASES = [
  conv("1x1_c64_56_m256", "conv 1x1", 64, 56, 256, 1),
  conv("1x1_c256_14_m1024", "conv 1x1", 256, 14, 1024, 1),
  conv("1x1_c16_112_m96", "conv 1x1", 16, 112, 96, 1, { act: "Clip6" }),
  conv("3x3_c64_56_m64", "winograd", 64, 56, 64, 3, { act: "Relu" }),
  conv("3x3_c32_160_m32", "winograd", 32, 160, 32, 3, { act: "Relu" }),
  conv("3x3_c32_256_m32", "winograd", 32, 256, 32, 3, { act: "Relu" }),
  conv("3x3_c256_14_m256", "winograd", 256, 14, 256, 3),
  conv("3x3_c512_7_m512", "conv 3x3 direct", 512, 7, 512, 3),
  conv("3x3s2_c128_56_m128", "conv 3x3 direct", 128, 56, 128, 3, { stride: 2 }),
  conv("7x7s2_c3_224_m64", "conv 7x7 direct", 3, 224, 64, 7, { stride: 2 }),
  conv("dw3x3_c144_56", "depthwise s1", 144, 56, 144, 3, { group: 144, act: "Clip6" }),
  conv("dw3x3_c576_14", "depthwise s1", 576, 14, 576, 3, { group: 576, act: "Clip6" }),
  conv("dw3x3s2_c96_112", "depthwise s2+", 96, 112, 96, 3, { group: 96, stride: 2, act: "Clip6" }),
  conv("dw3x3s2_c144_56", "depthwise s2+", 144, 56, 144, 3, { group: 144, stride: 2, act: "Clip6" }),
  conv("dil2_c256_64_m256", "dilated conv", 256, 64, 256, 3, { dilation: 2 }),
  conv("dil12_c320_32_m256", "dilated conv", 320, 32, 256, 3, { dilation: 12 }),
  conv("dil24_c320_32_m256", "dilated conv", 320, 32, 256, 3, { dilation: 24 }),
  { name: "gemm_256", cls: "gemm", bytes: matmulModel(256, 256, 256), dims: [256, 256], flops: 2 * 256 ** 3 },
  { name: "gemv_1x2048x1000", cls: "gemv", bytes: matmulModel(1, 2048, 1000), dims: [1, 2048], flops: 2 * 2048 * 1000 },
  { name: "maxpool3x3s2_c64_112", cls: "pool", bytes: maxPoolModel(64, 112, 112, 3, 2, 1), dims: [1, 64, 112, 112], flops: 0 },
].filter((c) => !opt.only || opt.only.some((o) => c.name.includes(o)));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-kernels-"));
let mlc = opt.mlc;
if (!mlc) {
  mlc = path.join(tmp, "mlc");
  execFileSync("go", ["build", "-o", mlc, "./cmd/mlc"], { cwd: repo, stdio: "inherit" });
}

const quant = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

function wazero(wasmPath) {
  const r = spawnSync(mlc, ["bench", "--runs", "10", "--min-time", `${opt.minTime}s`, wasmPath], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  const m = /median ([\d.]+)(µs|ms|s), p90 [\d.]+(?:µs|ms|s), min ([\d.]+)(µs|ms|s)/.exec(r.stdout);
  const toS = (v, u) => parseFloat(v) * { µs: 1e-6, ms: 1e-3, s: 1 }[u];
  return { median: toS(m[1], m[2]), min: toS(m[3], m[4]) };
}

const rows = [];
for (const c of CASES) {
  const onnx = path.join(tmp, c.name + ".onnx");
  fs.writeFileSync(onnx, c.bytes);
  const mods = [];
  for (const [vi, v] of opt.variants.entries()) {
    const wasmPath = path.join(tmp, `${c.name}.${vi}.wasm`);
    // leading NAME=value words set the compiler's environment
    const words = v.split(" ").filter(Boolean);
    const env = { ...process.env };
    while (words.length && /^[A-Z_]+=/.test(words[0])) {
      const [k, val] = words.shift().split("=");
      env[k] = val;
    }
    execFileSync(mlc, ["compile", onnx, "-o", wasmPath, ...words], { stdio: ["ignore", "ignore", "inherit"], env });
    mods.push({ v, wasmPath });
  }
  const res = mods.map(() => ({}));
  if (opt.engines.includes("v8")) {
    const models = [];
    for (const m of mods) {
      const model = await load(fs.readFileSync(m.wasmPath));
      model.invoke();
      models.push(model);
    }
    const ts = models.map(() => []);
    const began = performance.now();
    let warm = true;
    while (warm || performance.now() - began < opt.minTime * 1e3 * models.length || ts[0].length < 10) {
      if (warm && performance.now() - began > 300) {
        warm = false;
        ts.forEach((t) => (t.length = 0));
      }
      models.forEach((m, i) => {
        const t0 = performance.now();
        m.invoke();
        ts[i].push((performance.now() - t0) / 1e3);
      });
    }
    ts.forEach((t, i) => (res[i].v8 = { median: quant(t, 0.5), min: quant(t, 0) }));
  }
  if (opt.engines.includes("wazero")) mods.forEach((m, i) => (res[i].wazero = wazero(m.wasmPath)));
  const cells = [];
  for (const [i, m] of mods.entries()) {
    for (const e of opt.engines) {
      const t = res[i][e];
      const g = c.flops ? c.flops / t.min / 1e9 : null;
      cells.push(`${e}${m.v ? `(${m.v})` : "(default)"} ${(t.min * 1e3).toFixed(3)}/${(t.median * 1e3).toFixed(3)} ms${g ? ` ${g.toFixed(1)} GF/s ${((100 * g) / opt.ceiling).toFixed(0)}%` : ""}`);
    }
  }
  const line = `${c.name.padEnd(22)} ${c.cls.padEnd(16)} ${cells.join(" | ")}`;
  console.log(line);
  rows.push({ ...c, bytes: undefined, res });
}
fs.rmSync(tmp, { recursive: true, force: true });
