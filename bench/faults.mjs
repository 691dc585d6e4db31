// Minor page faults of the process across one cold start's steps, in a
// fresh process, for an mlc module:
//
//   node faults.mjs MODEL_DIR FILE.wasm
//
// prints, per step (load(): compile, instantiate, the weights placed; the
// inputs written; the first run; the second run), the process's minor
// faults (/proc/self/stat, every thread: V8's compiler threads fault in
// their own zones too) and the step's ms. On this machine a fault costs
// ~15 us: the first run's faults on the model's thread are the arena's
// pages, once each (docs/design.md, cold3). MAPS=FILE writes
// /proc/self/maps at the end, and the first run's ends are written to
// stderr as "mark T0 T1" (CLOCK_MONOTONIC ns), for `perf record -e
// page-faults -d -k CLOCK_MONOTONIC` to tell the faults apart by thread and
// mapping.

import fs from "node:fs";
import { load } from "../runtime-shim/js/mlc.mjs";
import { readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";

const [dir, file] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
const feeds = readFeeds(dir).map(decodeTensor);
const minflt = () => Number(fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const steps = {};
let f = minflt();
let t = performance.now();
const step = (name) => {
  const f1 = minflt();
  const t1 = performance.now();
  steps[name] = { faults: f1 - f, ms: +(t1 - t).toFixed(1) };
  f = minflt();
  t = performance.now();
};
const m = await load(bytes);
step("load");
m.inputs.forEach((t, i) => m.setInput(t.name, feeds[i].data));
step("inputs");
const mark0 = process.hrtime.bigint();
m.invoke();
const mark1 = process.hrtime.bigint();
step("run1");
m.invoke();
step("run2");
process.stderr.write(`mark ${mark0} ${mark1}\n`);
if (process.env.MAPS) fs.writeFileSync(process.env.MAPS, fs.readFileSync("/proc/self/maps"));
console.log(JSON.stringify(steps));
