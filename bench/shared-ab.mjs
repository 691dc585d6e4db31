// Steady-state runs of one module on a shared memory (what load() gives a
// module when a helper thread prefaults its pages) against an unshared one
// (load(..., {prefault: false})), alternating in this one process:
//
//   node shared-ab.mjs [--min-time S] MODULE.wasm MODEL_DIR
//
// Prints each memory's minimum and median run (inputs in, outputs out: the
// runtime's run()) and the median over rounds of shared / unshared, and
// checks that both give the same bits.

import fs from "node:fs";
import { load } from "../runtime-shim/js/mlc.mjs";
import { readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";

const args = process.argv.slice(2);
let minTime = 10;
if (args[0] === "--min-time") {
  minTime = parseFloat(args[1]);
  args.splice(0, 2);
}
const [file, dir] = args;
const bytes = fs.readFileSync(file);
const shared = await load(bytes);
const unshared = await load(bytes, { prefault: false });
if (!(shared.instance.exports.memory.buffer instanceof SharedArrayBuffer)) throw new Error("the prefault load's memory is not shared");
if (unshared.instance.exports.memory.buffer instanceof SharedArrayBuffer) throw new Error("the prefault: false load's memory is shared");
const feeds = {};
readFeeds(dir)
  .map(decodeTensor)
  .forEach((f, i) => (feeds[shared.inputs[i].name] = f.data));
const bits = (out) => Object.values(out).map((t) => Buffer.from(t.data.buffer).toString("base64")).join();
if (bits(shared.run(feeds)) !== bits(unshared.run(feeds))) throw new Error("outputs differ");
const times = { shared: [], unshared: [] };
const start = performance.now();
for (let i = 0; (performance.now() - start) / 1000 < minTime || i < 10; i++) {
  for (const [name, m] of i % 2 ? [["unshared", unshared], ["shared", shared]] : [["shared", shared], ["unshared", unshared]]) {
    const t = performance.now();
    m.run(feeds);
    times[name].push(performance.now() - t);
  }
}
const median = (x) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [name, t] of Object.entries(times)) console.log(`${name.padEnd(9)} min ${Math.min(...t).toFixed(2)} median ${median(t).toFixed(2)} ms (${t.length} runs)`);
console.log(`paired shared / unshared ${median(times.shared.map((t, i) => t / times.unshared[i])).toFixed(3)}; outputs bit-identical`);
