// The two engines behind one interface, shared by the steady-state run
// (bench.mjs) and the cold-start child processes (cold.mjs).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../runtime-shim/js/mlc.mjs";
import { sections } from "../runtime-shim/js/wasm-bytes.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

// ORT-web instantiates its engine through WebAssembly.instantiate with an
// imported memory: remember both so that memory and code size can be read.
export const ortWasm = { bytes: null, memories: [] };
const origInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = function (src, imports) {
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) {
    if (!ortWasm.bytes && src.byteLength > 1 << 20) ortWasm.bytes = src;
  }
  for (const mod of Object.values(imports || {})) {
    for (const v of Object.values(mod || {})) if (v instanceof WebAssembly.Memory) ortWasm.memories.push(v);
  }
  return origInstantiate.apply(this, arguments);
};

export const ortEngineFile = path.join(here, "node_modules", "onnxruntime-web", "dist", "ort-wasm-simd-threaded.wasm");

let ortModule = null;
// threads is ORT-web's numThreads (its thread pool is created once per process).
export async function ort(threads = 1) {
  if (!ortModule) {
    ortModule = await import("onnxruntime-web");
    ortModule.env.wasm.numThreads = threads; // the SIMD build (the only one 1.30 ships)
    ortModule.env.wasm.simd = true;
    ortModule.env.wasm.proxy = false;
  }
  return ortModule;
}

// feeds: [{name, dtype, dims, data}] from the test data set.
export async function openORT(modelBytes, feeds, threads = 1) {
  const o = await ort(threads);
  const session = await o.InferenceSession.create(modelBytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const ortFeeds = {};
  for (const f of feeds) ortFeeds[f.name] = new o.Tensor(f.dtype, f.data, f.dims);
  return {
    session,
    async run() {
      const out = await session.run(ortFeeds);
      const res = {};
      for (const k of session.outputNames) res[k] = out[k].data;
      return res;
    },
    memoryBytes: () => Math.max(0, ...ortWasm.memories.map((m) => m.buffer.byteLength)),
  };
}

// MLC_PREFAULT=0 loads without the helper thread that touches memory's
// pages first (load()'s prefault option), to compare with in one runtime.
export async function openMLC(wasmBytes, feeds, threads = 1) {
  const model = await load(wasmBytes, { threads, ...(process.env.MLC_PREFAULT === "0" ? { prefault: false } : {}) });
  const mlcFeeds = {};
  for (const f of feeds) mlcFeeds[f.name] = f.data;
  return {
    model,
    async run() {
      const out = model.run(mlcFeeds);
      const res = {};
      for (const k of Object.keys(out)) res[k] = out[k].data;
      return res;
    },
    memoryBytes: () => model.instance.exports.memory.buffer.byteLength,
    close: () => model.close(),
  };
}

// cpuMs is the process's CPU time (user + system, every thread) in ms.
export function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// codeBytes is a module's size minus its data segments' payload.
export function codeBytes(bytes) {
  let data = 0;
  for (const section of sections(bytes)) if (section.id === 11) data += section.end - section.body;
  return bytes.length - data;
}

export function readFeeds(dir) {
  const set = path.join(dir, "test_data_set_0");
  const files = fs.readdirSync(set).filter((f) => /^input_\d+\.pb$/.test(f));
  files.sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)));
  return files.map((f) => fs.readFileSync(path.join(set, f)));
}
