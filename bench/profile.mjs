// Per-node and per-layer-class profiles of mlc modules in V8 (this
// process) and on wazero (`mlc bench --profile --json`), from one profiling
// build (mlc compile --profile) so both engines run the same code:
//
//   node profile.mjs [--mlc BIN] [--compile-flags "--tune v8"] [--engines v8,wazero,wasmtime]
//                    [--variants "label=BIN flags;label2=BIN2 flags"]
//                    [--min-time S] [--top N] [--stat min|median] MODEL.onnx|MODEL_DIR ...
//
// Each node function runs alone through the mlc_profile_node export, timed
// by the host's clock, over --min-time seconds after a warm-up (V8 tiers
// functions up in the background); per node the minimum (default: the
// steadier on a busy machine) or the median is kept. With --variants
// (e.g. main's build against this branch's), V8 alternates whole passes
// over the nodes between the variants' modules in this one process.
// Classes come from codegen.LayerClass; GFLOP/s counts the arithmetic of
// the model as written, so Winograd can exceed the machine's SIMD128 GEMM
// ceiling (tiles.mjs measures it; class-table.mjs --ceiling takes it).

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../runtime-shim/js/mlc.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const CEILING = 33.0; // GFLOP/s, ../shared/notes/wasm-simd-performance.md

const opt = { json: null, mlc: null, flags: "", engines: ["v8", "wazero"], minTime: 3, top: 0, stat: "min", variants: null, models: [] };
{
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i];
    if (k === "--mlc") opt.mlc = v[++i];
    else if (k === "--compile-flags") opt.flags = v[++i];
    else if (k === "--engines") opt.engines = v[++i].split(",");
    else if (k === "--min-time") opt.minTime = parseFloat(v[++i]);
    else if (k === "--top") opt.top = parseInt(v[++i]);
    else if (k === "--stat") opt.stat = v[++i];
    else if (k === "--json") opt.json = v[++i];
    else if (k === "--wasmtime") opt.wasmtime = v[++i];
    else if (k === "--variants") opt.variants = v[++i];
    else if (k.startsWith("--")) throw new Error(`unknown flag ${k}`);
    else opt.models.push(k);
  }
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-profile-"));
let mlc = opt.mlc;
if (!mlc) {
  mlc = path.join(tmp, "mlc");
  execFileSync("go", ["build", "-o", mlc, "./cmd/mlc"], { cwd: repo, stdio: "inherit" });
}

function customSection(mod, name) {
  const s = WebAssembly.Module.customSections(mod, name);
  return s.length ? JSON.parse(new TextDecoder().decode(s[0])) : null;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const pick = (xs) => (opt.stat === "median" ? median(xs) : Math.min(...xs));

// profileV8 profiles several modules in this process, alternating whole
// passes over their nodes.
async function profileV8(wasms) {
  const subjects = [];
  for (const wasm of wasms) {
    const mod = await WebAssembly.compile(wasm);
    const nodes = customSection(mod, "mlc.profile");
    const m = await load(mod);
    m.invoke(); // zero inputs: timing does not depend on values; runs first-run nodes
    subjects.push({ nodes, fn: m.instance.exports.mlc_profile_node, times: nodes.map(() => []) });
  }
  const pass = (s, keep) => {
    for (let i = 0; i < s.nodes.length; i++) {
      const t0 = performance.now();
      const st = s.fn(i);
      const dt = performance.now() - t0;
      if (st !== 0) throw new Error(`node ${s.nodes[i].func}: status ${st}`);
      if (keep) s.times[i].push(dt / 1e3);
    }
  };
  const warm = performance.now();
  do subjects.forEach((s) => pass(s, false));
  while (performance.now() - warm < 500);
  const began = performance.now();
  let n = 0;
  while (performance.now() - began < opt.minTime * 1e3 * subjects.length || n < 5) {
    subjects.forEach((s) => pass(s, true));
    n++;
  }
  return subjects.map((s) => s.nodes.map((nd, i) => ({ ...nd, seconds: pick(s.times[i]) })));
}

// profileWazero profiles the modules in one mlc bench process, their
// passes alternating.
function profileWazero(wasmPaths) {
  const r = spawnSync(mlc, ["bench", "--profile", "--json", "-", "--runs", "5", "--min-time", `${opt.minTime}s`, ...wasmPaths], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr);
  // mlc.bench documents (docs/cli.md): one, or an array of one per module;
  // their nodes, slowest first, carry their run-order index.
  const docs = [JSON.parse(r.stdout)].flat();
  return docs.map((d) =>
    d.profile.nodes
      .toSorted((a, b) => a.index - b.index)
      .map((n) => ({ func: n.func, op: n.op, shape: n.shape, flops: n.flops, class: n.class, seconds: (opt.stat === "median" ? n.median_ms : n.min_ms) / 1e3 })),
  );
}

// wasmtime (Cranelift) through bench/wasmtime, built on first use (cgo).
function profileWasmtime(wasmPath) {
  if (!opt.wasmtime) {
    opt.wasmtime = path.join(tmp, "wasmtime-bench");
    execFileSync("go", ["build", "-o", opt.wasmtime, "."], { cwd: path.join(here, "wasmtime"), stdio: "inherit" });
  }
  const r = spawnSync(opt.wasmtime, ["-profile", "-stat", opt.stat, "-runs", "5", "-min-time", `${opt.minTime}s`, wasmPath], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

function classes(rows) {
  const by = new Map();
  let total = 0;
  for (const r of rows) {
    const c = r.class || r.op;
    if (!by.has(c)) by.set(c, { name: c, nodes: 0, s: 0, flops: 0 });
    const e = by.get(c);
    e.nodes++;
    e.s += r.seconds;
    e.flops += r.flops || 0;
    total += r.seconds;
  }
  return { total, list: [...by.values()].sort((a, b) => b.s - a.s) };
}

const fmtMs = (s) => (s * 1e3 >= 10 ? (s * 1e3).toFixed(1) : (s * 1e3).toFixed(2));

function report(model, engine, rows) {
  const { total, list } = classes(rows);
  const L = [];
  const flops = rows.reduce((a, r) => a + (r.flops || 0), 0);
  L.push(`${model} on ${engine}: ${rows.length} nodes, sum of node ${opt.stat === "median" ? "medians" : "minima"} ${fmtMs(total)} ms, ${(flops / total / 1e9).toFixed(1)} GFLOP/s overall`);
  L.push("");
  L.push("| class | nodes | ms | % time | GFLOP/s | % of ceiling |");
  L.push("|---|---:|---:|---:|---:|---:|");
  for (const c of list) {
    const g = c.flops > 0 ? c.flops / c.s / 1e9 : null;
    L.push(`| ${c.name} | ${c.nodes} | ${fmtMs(c.s)} | ${((100 * c.s) / total).toFixed(1)} | ${g ? g.toFixed(1) : ""} | ${g ? ((100 * g) / CEILING).toFixed(0) : ""} |`);
  }
  if (opt.top > 0) {
    L.push("");
    const s = [...rows].sort((a, b) => b.seconds - a.seconds).slice(0, opt.top);
    for (const r of s) L.push(`    ${fmtMs(r.seconds).padStart(8)} ms ${r.flops ? (r.flops / r.seconds / 1e9).toFixed(1).padStart(6) : "      "} GF/s  ${(r.class || "").padEnd(16)} [${r.shape}] ${r.func}`);
  }
  return L.join("\n");
}

// variants: [{label, bin, flags}]
const variants = opt.variants
  ? opt.variants.split(";").map((v) => {
      const [label, rest] = v.split("=");
      const [bin, ...flags] = rest.trim().split(" ").filter(Boolean);
      return { label, bin, flags };
    })
  : [{ label: opt.flags || "default", bin: mlc, flags: opt.flags.split(" ").filter(Boolean) }];

const dump = [];
for (const arg of opt.models) {
  const model = fs.statSync(arg).isDirectory() ? path.join(arg, "model.onnx") : arg;
  const name = path.basename(fs.statSync(arg).isDirectory() ? arg : path.dirname(arg));
  const paths = variants.map((v, i) => {
    const wasmPath = path.join(tmp, `${name}.${i}.wasm`);
    execFileSync(v.bin, ["compile", "--profile", model, "-o", wasmPath, ...v.flags], { stdio: "inherit" });
    return wasmPath;
  });
  for (const e of opt.engines) {
    const all = e === "v8" ? await profileV8(paths.map((p) => fs.readFileSync(p))) : e === "wasmtime" ? paths.map((p) => profileWasmtime(p)) : profileWazero(paths);
    // Builds from before layer classes existed: take a node's class from
    // another variant's node of the same function name.
    const classOf = new Map();
    for (const rows of all) for (const r of rows) if (r.class) classOf.set(r.func, r.class);
    for (const rows of all) for (const r of rows) r.class = r.class || classOf.get(r.func);
    all.forEach((rows, i) => {
      dump.push({ model: name, engine: e, variant: variants[i].label, rows });
      console.log(report(name, `${e} [${variants[i].label}]`, rows));
      console.log("");
    });
  }
}
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify(dump, null, 1));
fs.rmSync(tmp, { recursive: true, force: true });
