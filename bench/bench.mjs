// mlc against ONNX Runtime Web (Wasm backend, SIMD) in one Node process.
// For each model folder: compile with mlc, load both engines, alternate
// their runs, and report median/p90 latency, CPU time per inference (the
// process's user+system time over runs of one engine alone: every thread
// counted), cold start (bytes in memory -> first result, in fresh
// processes), linear memory and code bytes.
//
//   node bench.mjs [--models DIR] [--only a,b] [--mlc BIN] [--min-time S]
//                  [--cold N] [--json FILE] [--md FILE] [--compile-flags "..."]
//                  [--threads N] [--relaxed] [--busy] [--gap MS]
//
// --threads N compiles mlc with --threads N (the single-threaded module is
// measured beside it) and gives ORT-web numThreads N. --relaxed adds a
// module compiled with --relaxed-simd (the process re-runs itself with
// --experimental-wasm-relaxed-simd where Node needs it). --busy keeps a
// CPU-bound process running beside the measurement (the other core busy).
// --gap MS idles that long before every timed run (default: 50 with
// --threads, else 0): ORT-web's pool keeps a core spinning for ~30-35 ms
// after each of its runs (measured with numThreads 2), so without a gap
// the run that follows ORT's in the alternation shares the machine with
// that spin, and the threaded module, which wants both cores, pays most.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { codeBytes, cpuMs, openMLC, openORT, ortEngineFile, readFeeds } from "./engines.mjs";
import { relaxedSIMDSupported } from "../runtime-shim/js/mlc.mjs";
import { asppModel, convModel, decodeTensor, matmulModel } from "./onnx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");

function args() {
  const a = { models: null, only: null, mlc: null, minTime: 2, minRuns: 10, cold: 5, json: path.join(here, "results.json"), md: path.join(repo, "docs", "benchmarks.md"), compileFlags: "", kernels: true, threads: 1, relaxed: false, busy: false, gap: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    const next = () => v[++i];
    if (k === "--models") a.models = next();
    else if (k === "--only") a.only = next().split(",");
    else if (k === "--mlc") a.mlc = next();
    else if (k === "--min-time") a.minTime = parseFloat(next());
    else if (k === "--min-runs") a.minRuns = parseInt(next());
    else if (k === "--cold") a.cold = parseInt(next());
    else if (k === "--json") a.json = next();
    else if (k === "--md") a.md = next();
    else if (k === "--compile-flags") a.compileFlags = next();
    else if (k === "--no-kernels") a.kernels = false;
    else if (k === "--threads") a.threads = parseInt(next());
    else if (k === "--relaxed") a.relaxed = true;
    else if (k === "--busy") a.busy = true;
    else if (k === "--gap") a.gap = parseFloat(next());
    else throw new Error(`unknown flag ${k}`);
  }
  if (a.gap === null) a.gap = a.threads > 1 ? 50 : 0;
  if (a.threads > 1 || a.relaxed || a.busy) {
    // Not the single-threaded tables: results of their own unless told.
    const tag = [a.threads > 1 ? `threads${a.threads}` : "", a.relaxed ? "relaxed" : "", a.busy ? "busy" : ""].filter(Boolean).join("-");
    if (!v.includes("--json")) a.json = path.join(here, `results-${tag}.json`);
    if (!v.includes("--md")) a.md = path.join(repo, "docs", `benchmarks-${tag}.md`);
  }
  if (!a.models) {
    // $MLC_SHARED, else ../shared beside the repository (or beside a worktree's parent)
    const shared = process.env.MLC_SHARED || [path.join(repo, "..", "shared"), path.join(repo, "..", "..", "shared")].find((d) => fs.existsSync(d)) || path.join(repo, "..", "shared");
    a.models = path.join(shared, "models");
  }
  return a;
}

const opt = args();
if (opt.relaxed && !relaxedSIMDSupported()) {
  // Node 20 runs relaxed SIMD behind a flag: run again with it.
  const r = spawnSync(process.execPath, ["--experimental-wasm-relaxed-simd", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(r.status === null ? 1 : r.status);
}
// --busy: a CPU-bound process beside the measurement, ended on exit.
const busy = opt.busy ? spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }) : null;
if (busy) {
  busy.unref(); // a running child would keep this process from ever exiting
  process.on("exit", () => busy.kill());
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-bench-"));
let mlcBin = opt.mlc;
if (!mlcBin) {
  mlcBin = path.join(tmp, "mlc");
  execFileSync("go", ["build", "-o", mlcBin, "./cmd/mlc"], { cwd: repo, stdio: "inherit" });
}

function compile(modelPath, wasmPath, feeds, extra = []) {
  const shapes = feeds.flatMap((f) => ["--input-shape", `${f.name}=${f.dims.join(",")}`]);
  const flags = [...(opt.compileFlags ? opt.compileFlags.split(" ") : []), ...extra];
  const r = spawnSync(mlcBin, ["compile", modelPath, "-o", wasmPath, ...flags, ...(feeds[0].name ? shapes : [])], { encoding: "utf8" });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().replace(/^mlc: /, "");
  return null;
}

function flopsOf(modelPath, feeds) {
  const shapes = feeds.filter((f) => f.name).flatMap((f) => ["--input-shape", `${f.name}=${f.dims.join(",")}`]);
  const r = spawnSync(mlcBin, ["inspect", modelPath, ...shapes], { encoding: "utf8" });
  const m = /compute: ([\d.]+) MFLOP/.exec(r.stdout || "");
  return m ? parseFloat(m[1]) * 1e6 : null;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

function coldStarts(engine, dir, file, names) {
  const ms = [];
  let memoryBytes = 0;
  for (let i = 0; i < opt.cold; i++) {
    const r = spawnSync(process.execPath, [path.join(here, "cold.mjs"), engine, dir, file], { encoding: "utf8", env: { ...process.env, MLC_BENCH_INPUTS: JSON.stringify(names) } });
    if (r.status !== 0) throw new Error(`cold start ${engine}: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split("\n").pop());
    ms.push(res.ms);
    memoryBytes = res.memoryBytes;
  }
  return { ms: quantile(ms, 0.5), memoryBytes };
}

function maxAbsDiff(a, b) {
  let d = 0;
  for (const k of Object.keys(a)) {
    const x = a[k];
    const y = b[k];
    if (!y || x.length !== y.length) return Infinity;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(Number(x[i]) - Number(y[i])));
  }
  return d;
}

// The benchmark cases: every model folder, then synthetic single-kernel models.
function cases() {
  const out = [];
  for (const name of fs.readdirSync(opt.models).sort()) {
    const dir = path.join(opt.models, name);
    if (!fs.existsSync(path.join(dir, "model.onnx"))) continue;
    out.push({ name, dir, model: path.join(dir, "model.onnx"), feeds: readFeeds(dir).map(decodeTensor) });
  }
  if (opt.kernels) {
    const synth = (name, bytes, dims) => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(path.join(dir, "test_data_set_0"), { recursive: true });
      fs.writeFileSync(path.join(dir, "model.onnx"), bytes);
      const n = dims.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      return { name, dir, model: path.join(dir, "model.onnx"), kernel: true, feeds: [{ name: "X", dtype: "float32", dims, data }] };
    };
    out.push(synth("kernel_gemm_256", matmulModel(256, 256, 256), [256, 256]));
    out.push(synth("kernel_gemm_1x1conv", matmulModel(3136, 576, 64), [3136, 576]));
    out.push(synth("kernel_conv3x3_64x56", convModel(64, 56, 56, 64, 3, 1, 1), [1, 64, 56, 56]));
    out.push(synth("kernel_aspp_960x32", asppModel(960, 32, 256, [12, 24, 36]), [1, 960, 32, 32]));
  }
  return out.filter((c) => !opt.only || opt.only.includes(c.name));
}

// cpuPerRun is CPU ms per run of one engine alone, after a pause that lets
// the other engine's idle threads settle (spinning pools are still counted:
// that is the point).
async function cpuPerRun(e, runs) {
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuMs();
  for (let i = 0; i < runs; i++) await e.run();
  return (cpuMs() - c0) / runs;
}

async function benchOne(c) {
  const r = { model: c.name, kernel: !!c.kernel, threads: opt.threads };
  const wasmPath = path.join(tmp, c.name + ".wasm");
  const threadFlags = opt.threads > 1 ? ["--threads", String(opt.threads)] : [];
  const err = compile(c.model, wasmPath, c.feeds, threadFlags);
  const modelBytes = fs.readFileSync(c.model);
  r.flops = flopsOf(c.model, c.feeds);
  const o = await openORT(modelBytes, c.feeds.map((f) => ({ ...f, name: f.name })), opt.threads);
  for (let i = 0; i < c.feeds.length; i++) c.feeds[i].name = c.feeds[i].name || o.session.inputNames[i];
  if (err) {
    r.error = err;
  }
  // mlc variants: the module (N threads with --threads N), the
  // single-threaded one beside it, the relaxed-SIMD one.
  const variants = [];
  if (!err) {
    const wasm = fs.readFileSync(wasmPath);
    const m = await openMLC(wasm, c.feeds, opt.threads);
    r.mlc = { wasmBytes: wasm.length, codeBytes: codeBytes(wasm), memoryBytes: m.memoryBytes() };
    r.maxAbsDiff = maxAbsDiff(await m.run(), await o.run());
    variants.push({ key: "mlc", e: m });
    const more = [];
    if (opt.threads > 1) more.push({ key: "mlc1", flags: [] });
    if (opt.relaxed) more.push({ key: "relaxed", flags: [...threadFlags, "--relaxed-simd"] });
    for (const v of more) {
      const p = path.join(tmp, `${c.name}.${v.key}.wasm`);
      const e2 = compile(c.model, p, c.feeds, v.flags);
      if (e2) {
        r[v.key] = { error: e2 };
        continue;
      }
      const e = await openMLC(fs.readFileSync(p), c.feeds, v.key === "mlc1" ? 1 : opt.threads);
      r[v.key] = { maxAbsDiff: maxAbsDiff(await e.run(), await o.run()) };
      variants.push({ key: v.key, e });
    }
  }
  // Warm up (V8 tiers hot functions up to TurboFan in the background).
  const warm = performance.now();
  while (performance.now() - warm < 500) {
    for (const v of variants) await v.e.run();
    await o.run();
  }
  const times = Object.fromEntries(variants.map((v) => [v.key, []]));
  const to = [];
  const began = performance.now();
  const settle = () => (opt.gap > 0 ? new Promise((r) => setTimeout(r, opt.gap)) : null);
  while (performance.now() - began < opt.minTime * 1000 || to.length < opt.minRuns) {
    for (const v of variants) {
      await settle();
      const t0 = performance.now();
      await v.e.run();
      times[v.key].push(performance.now() - t0);
    }
    await settle();
    const t1 = performance.now();
    await o.run();
    to.push(performance.now() - t1);
  }
  const cpuRuns = Math.max(3, Math.min(20, Math.round(to.length / 2)));
  r.ort = { median: quantile(to, 0.5), p90: quantile(to, 0.9), runs: to.length, memoryBytes: o.memoryBytes(), threads: opt.threads, cpuMs: await cpuPerRun(o, cpuRuns) };
  for (const v of variants) {
    Object.assign(r[v.key], { median: quantile(times[v.key], 0.5), p90: quantile(times[v.key], 0.9), runs: times[v.key].length, cpuMs: await cpuPerRun(v.e, cpuRuns) });
  }
  await o.session.release();
  for (const v of variants) await v.e.close();
  const m = variants.length > 0;
  const names = c.feeds.map((f) => f.name);
  if (opt.cold > 0 && !c.kernel) {
    const oc = coldStarts("ort", c.dir, c.model, names);
    r.ort.coldMs = oc.ms;
    r.ort.memoryBytes = oc.memoryBytes;
    if (m) r.mlc.coldMs = coldStarts("mlc", c.dir, wasmPath, names).ms;
  }
  if (m) {
    r.ratio = { median: r.mlc.median / r.ort.median, cold: r.mlc.coldMs / r.ort.coldMs || undefined, cpu: r.mlc.cpuMs / r.ort.cpuMs };
    if (r.mlc1 && r.mlc1.median) Object.assign(r.ratio, { speedup: r.mlc1.median / r.mlc.median, cpuVs1: r.mlc.cpuMs / r.mlc1.cpuMs });
    if (r.relaxed && r.relaxed.median) r.ratio.relaxed = r.mlc.median / r.relaxed.median;
  }
  if (r.flops) {
    r.ort.gflops = r.flops / r.ort.median / 1e6;
    if (m) r.mlc.gflops = r.flops / r.mlc.median / 1e6;
  }
  return r;
}

const fmtMs = (x) => (x === undefined ? "" : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const fmtKB = (b) => (b === undefined ? "" : `${Math.round(b / 1024)}`);
const fmtMB = (b) => (b === undefined ? "" : (b / 2 ** 20).toFixed(1));
const geomean = (xs) => (xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : NaN);

// The targets of the performance issue are judged over these models.
const TARGET = ["resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0", "tiny_transformer", "oww_embedding", "mnist_cntk"];

function chart(results) {
  const rows = results.filter((r) => r.ratio);
  const W = 640;
  const rowH = 22;
  const left = 190;
  const H = 40 + rows.length * rowH;
  const maxR = Math.max(1.2, ...rows.map((r) => r.ratio.median));
  const x = (v) => left + (v / maxR) * (W - left - 60);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n`;
  s += `<text x="${left}" y="16">median latency, mlc / ONNX Runtime Web (lower is better; line = 1)</text>\n`;
  rows.forEach((r, i) => {
    const y = 28 + i * rowH;
    const v = r.ratio.median;
    s += `<text x="${left - 6}" y="${y + 14}" text-anchor="end">${r.model}</text>`;
    s += `<rect x="${left}" y="${y + 3}" width="${(x(v) - left).toFixed(1)}" height="${rowH - 7}" fill="${v < 1 ? "#2a7" : "#d54"}"/>`;
    s += `<text x="${(x(v) + 4).toFixed(1)}" y="${y + 14}">${v.toFixed(2)}</text>\n`;
  });
  s += `<line x1="${x(1)}" y1="24" x2="${x(1)}" y2="${H - 6}" stroke="#333" stroke-dasharray="3,3"/>\n</svg>\n`;
  return s;
}

function markdown(results, meta) {
  const L = [];
  L.push("# Benchmarks: mlc against ONNX Runtime Web");
  L.push("");
  L.push(`Generated by \`bench/\` (\`cd bench && npm ci && node bench.mjs\`) on ${meta.date}: ${meta.cpu}, Node ${process.versions.node} (V8 ${process.versions.v8}), onnxruntime-web ${meta.ortVersion} (Wasm backend, 1 thread, SIMD). Both engines run in one process; their runs alternate. Latency is one \`run\` through each engine's JavaScript API, inputs in and outputs out; cold start is bytes in memory to the first result, in a fresh process (median of ${opt.cold}); code bytes are the module's size minus its data segments (ORT-web: its engine, ${fmtKB(meta.ortCodeBytes)} KB, models are data to it); memory is the Wasm linear memory after the model's first run (ORT: in the cold-start process, which ran only that model). GFLOP/s counts the Conv/Gemm/MatMul arithmetic of the model as written, so Winograd layers can exceed the SIMD128 multiply-add ceiling.`);
  L.push("");
  L.push(`![median latency ratio](${path.basename(chartFile(opt.md))})`);
  L.push("");
  if (opt.threads > 1 || opt.relaxed || opt.busy) {
    L.push(`This run: mlc compiled with ${opt.threads > 1 ? `\`--threads ${opt.threads}\`` : "one thread"}${opt.relaxed ? " (and a `--relaxed-simd` build)" : ""}, ORT-web with numThreads ${opt.threads}${opt.busy ? ", a CPU-bound process running beside the measurement (`--busy`)" : ""}. CPU ms is the process's CPU time (user + system, all threads) per inference, over runs of one engine alone after a 300 ms pause.${opt.gap > 0 ? ` Every timed run follows ${opt.gap} ms of idle time, so that no engine's pool is still spinning from the run before (\`--gap\`).` : ""}`);
    L.push("");
  }
  const extra = [];
  if (opt.threads > 1) extra.push(["mlc 1-thread ms", (r) => fmtMs(r.mlc1 && r.mlc1.median)], ["speed-up vs 1 thread", (r) => (r.ratio && r.ratio.speedup ? r.ratio.speedup.toFixed(2) : "")], ["CPU vs 1 thread", (r) => (r.ratio && r.ratio.cpuVs1 ? r.ratio.cpuVs1.toFixed(2) : "")]);
  if (opt.relaxed) extra.push(["relaxed ms", (r) => fmtMs(r.relaxed && r.relaxed.median)], ["plain/relaxed", (r) => (r.ratio && r.ratio.relaxed ? r.ratio.relaxed.toFixed(2) : "")], ["relaxed max abs diff", (r) => (r.relaxed && r.relaxed.maxAbsDiff !== undefined ? r.relaxed.maxAbsDiff.toExponential(1) : "")]);
  L.push(`| model | mlc median ms | p90 | ORT median ms | p90 | mlc/ORT | mlc CPU ms | ORT CPU ms | CPU mlc/ORT | ${extra.map((e) => e[0] + " | ").join("")}mlc cold ms | ORT cold ms | cold ratio | mlc memory MiB | ORT memory MiB | mlc code KB | GFLOP/s mlc | GFLOP/s ORT | max abs diff |`);
  L.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|${extra.map(() => "---:|").join("")}---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of results) {
    if (r.error && !r.mlc) {
      L.push(`| ${r.model} | — |  | ${fmtMs(r.ort.median)} | ${fmtMs(r.ort.p90)} |  |  | ${fmtMs(r.ort.cpuMs)} |  | ${extra.map(() => " | ").join("")} | ${fmtMs(r.ort.coldMs)} |  |  | ${fmtMB(r.ort.memoryBytes)} |  |  | ${r.ort.gflops ? r.ort.gflops.toFixed(1) : ""} | ${String(r.error).split("\n")[0].replace(/\|/g, "/")} |`);
      continue;
    }
    L.push(`| ${r.model} | ${fmtMs(r.mlc.median)} | ${fmtMs(r.mlc.p90)} | ${fmtMs(r.ort.median)} | ${fmtMs(r.ort.p90)} | **${r.ratio.median.toFixed(2)}** | ${fmtMs(r.mlc.cpuMs)} | ${fmtMs(r.ort.cpuMs)} | ${r.ratio.cpu.toFixed(2)} | ${extra.map((e) => e[1](r) + " | ").join("")}${fmtMs(r.mlc.coldMs)} | ${fmtMs(r.ort.coldMs)} | ${r.ratio.cold ? r.ratio.cold.toFixed(3) : ""} | ${fmtMB(r.mlc.memoryBytes)} | ${fmtMB(r.ort.memoryBytes)} | ${fmtKB(r.mlc.codeBytes)} | ${r.mlc.gflops >= 0.05 ? r.mlc.gflops.toFixed(1) : ""} | ${r.ort.gflops >= 0.05 ? r.ort.gflops.toFixed(1) : ""} | ${r.maxAbsDiff.toExponential(1)} |`);
  }
  // --only picks the models a run is about: summarize those, not the
  // default target list (of which an --only run may hold a few).
  const t = opt.only ? results : results.filter((r) => TARGET.includes(r.model));
  const ok = t.filter((r) => r.ratio);
  L.push("");
  L.push(`Over ${opt.only ? `the ${t.length} models of this run` : "the seven target models"}, ${ok.length} compile: geometric mean of mlc/ORT median latency **${geomean(ok.map((r) => r.ratio.median)).toFixed(2)}**, of cold start **${geomean(ok.map((r) => r.ratio.cold)).toFixed(3)}**; largest code ${fmtKB(Math.max(...ok.map((r) => r.mlc.codeBytes)))} KB.`);
  const missing = t.filter((r) => !r.ratio);
  if (missing.length) L.push(`Not compiled yet: ${missing.map((r) => `${r.model} (${r.error.split("\n")[0]})`).join("; ")}.`);
  L.push("");
  L.push("Rows named kernel_* are synthetic models (a 256x256x256 MatMul, a 1x1-convolution-shaped MatMul M=3136 K=576 N=64, a 3x3 convolution 64->64 channels on 56x56, and a DeepLab ASPP-like head: 1x1 and 3x3 convolutions of dilation 12, 24 and 36 on a 32x32 map, 960 -> 256 channels each, concatenated and projected to 256) that measure the GEMM and convolution kernels in V8; their GFLOP/s include packing and the JavaScript call, and count the dilated convolutions' taps that read only padding.");
  L.push("");
  return L.join("\n");
}

// The generated table is the file's head; the sections after it (from the
// first "## " heading on) are written by hand, each with the figures of its
// own run, and a new table must not erase them.
// The chart beside a table is named after it (benchmarks-threads2.md ->
// benchmarks-threads2.svg): a --threads run must not replace the
// single-threaded table's chart.
function chartFile(md) {
  return path.join(path.dirname(md), path.basename(md, path.extname(md)) + ".svg");
}

function keptSections(file) {
  if (!fs.existsSync(file)) return "";
  const old = fs.readFileSync(file, "utf8");
  const at = old.search(/^## /m);
  return at < 0 ? "" : "\n" + old.slice(at);
}

const results = [];
const all = cases();
for (const c of all) {
  process.stderr.write(`${c.name} ... `);
  try {
    const r = await benchOne(c);
    results.push(r);
    const more = !r.ratio ? "" : `${r.ratio.speedup ? `, 1-thread mlc ${fmtMs(r.mlc1.median)} ms (speed-up x${r.ratio.speedup.toFixed(2)}, CPU x${r.ratio.cpuVs1.toFixed(2)})` : ""}${r.ratio.relaxed ? `, relaxed ${fmtMs(r.relaxed.median)} ms (x${r.ratio.relaxed.toFixed(2)})` : ""}`;
    process.stderr.write(r.mlc ? `mlc ${fmtMs(r.mlc.median)} ms (CPU ${fmtMs(r.mlc.cpuMs)}), ORT ${fmtMs(r.ort.median)} ms (CPU ${fmtMs(r.ort.cpuMs)}) (x${r.ratio.median.toFixed(2)})${more}, cold ${fmtMs(r.mlc.coldMs)} vs ${fmtMs(r.ort.coldMs)} ms, code ${fmtKB(r.mlc.codeBytes)} KB\n` : `ORT ${fmtMs(r.ort.median)} ms; mlc: ${r.error.split("\n")[0]}\n`);
  } catch (e) {
    process.stderr.write(`failed: ${e.message}\n`);
    results.push({ model: c.name, error: String(e.message) , ort: {} });
  }
}
const meta = {
  date: new Date().toISOString().slice(0, 10),
  cpu: `${os.cpus()[0].model.trim()} (${os.cpus().length} cores)`,
  node: process.versions.node,
  ortVersion: JSON.parse(fs.readFileSync(path.join(here, "node_modules", "onnxruntime-web", "package.json"))).version,
  ortCodeBytes: codeBytes(new Uint8Array(fs.readFileSync(ortEngineFile))),
  compileFlags: opt.compileFlags,
};
fs.writeFileSync(opt.json, JSON.stringify({ meta, results }, null, 1) + "\n");
if (opt.md) {
  fs.writeFileSync(opt.md, markdown(results, meta) + keptSections(opt.md));
  fs.writeFileSync(chartFile(opt.md), chart(results));
}
fs.rmSync(tmp, { recursive: true, force: true });
