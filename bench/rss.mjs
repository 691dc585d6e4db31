// Memory of one model in a fresh process: node --expose-gc rss.mjs [--path] mlc|ort MODEL_DIR FILE [WARM.wasm]
// (FILE: the .wasm for mlc, the .onnx for ORT; WARM: an mlc module loaded
// and run first, so that the process has paged in the engine's own Wasm
// compilers, a one-time cost of any Wasm, before the baseline). Prints, as JSON, the
// process RSS growth over a baseline taken before the file is read: once
// the model is loaded and the caller has dropped its bytes (loadBytes),
// and after the first run (runBytes); the linear memory; the time from
// the bytes in memory to the first result (ms). With --path (mlc only) the
// runtime is given FILE's path and reads it itself (load(path)): then
// nothing of the file is in memory at the baseline, and coldMs includes
// reading it.

import fs from "node:fs";
import { ort, ortEngineFile, openMLC, openORT, readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";

const args = process.argv.slice(2);
const byPath = args[0] === "--path";
if (byPath) args.shift();
const [engine, dir, file, warm] = args;
const feeds = readFeeds(dir).map(decodeTensor);
const names = JSON.parse(process.env.MLC_BENCH_INPUTS || "[]");
feeds.forEach((f, i) => (f.name = names[i] || f.name));

// Two collections a tick apart: V8 frees a large dropped ArrayBuffer's
// memory only after the second.
const rss = async () => {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc();
  return process.memoryUsage().rss;
};
let engineBytes;
if (engine === "ort") {
  const o = await ort();
  engineBytes = fs.readFileSync(ortEngineFile);
  o.env.wasm.wasmBinary = engineBytes;
}
if (warm) {
  const { load } = await import("../runtime-shim/js/mlc.mjs");
  const m = await load(fs.readFileSync(warm));
  const f = {};
  for (const t of m.inputs) f[t.name] = new Uint8Array(t.bytes);
  m.run(f);
}
const base = await rss();
let bytes = byPath ? file : fs.readFileSync(file);
const moduleBytes = fs.statSync(file).size;
const t0 = performance.now();
const s = engine === "ort" ? await openORT(bytes, feeds) : await openMLC(bytes, feeds);
bytes = null;
const t1 = performance.now();
const loadBytes = (await rss()) - base;
const t2 = performance.now();
await s.run();
const t3 = performance.now();
const runBytes = (await rss()) - base;
// coldMs: bytes in memory to the first result, without the collections.
process.stdout.write(JSON.stringify({ engine, moduleBytes, loadBytes, runBytes, memoryBytes: s.memoryBytes(), loadMs: t1 - t0, coldMs: t1 - t0 + (t3 - t2) }) + "\n");
