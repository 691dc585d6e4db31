// One cold start in a fresh process: node cold.mjs mlc|ort MODEL_DIR FILE
// (FILE: the .wasm for mlc, the .onnx for ORT). Everything is read into
// memory first; the clock runs from those bytes to the first result.
// MLC_COLD_PATH=1 (mlc): the runtime is given FILE's path instead (load(path),
// the file in the page cache), and the clock runs from that call.

import fs from "node:fs";
import { ort, ortEngineFile, openMLC, openORT, readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";

const [engine, dir, file] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
const feeds = readFeeds(dir).map(decodeTensor);
const names = JSON.parse(process.env.MLC_BENCH_INPUTS || "[]");
feeds.forEach((f, i) => (f.name = names[i] || f.name));

let t0;
let cpu0;
let mark0;
let s;
if (engine === "ort") {
  const o = await ort(); // the JavaScript glue is loaded; its Wasm engine is not yet
  const engineBytes = fs.readFileSync(ortEngineFile);
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  mark0 = process.hrtime.bigint();
  o.env.wasm.wasmBinary = engineBytes;
  s = await openORT(bytes, feeds);
  await s.run();
} else {
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  mark0 = process.hrtime.bigint();
  s = await openMLC(process.env.MLC_COLD_PATH ? file : bytes, feeds);
  await s.run();
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
// MLC_COLD_MARK=1: the window's ends on CLOCK_MONOTONIC (ns), for cold-perf.sh.
if (process.env.MLC_COLD_MARK) process.stderr.write(`mark ${mark0} ${process.hrtime.bigint()}\n`);
// The linear memory after this model's first run, in a process that ran
// nothing else (ORT's memory only grows, so the steady-state process would
// show the largest model's).
process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, memoryBytes: s.memoryBytes() }) + "\n");
