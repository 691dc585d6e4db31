// Steady runs of one mlc module (after five warm-up runs), for perf:
//   perf record -k CLOCK_MONOTONIC -e cpu-clock -F 4000 -o X.data node --perf-basic-prof steady-perf.mjs MODEL_DIR FILE.wasm SECONDS
// prints the runs and ms per run; "mark" lines on stderr bound the timed loop (CLOCK_MONOTONIC ns).
import fs from "node:fs";
import { openMLC, readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";
const [dir, file, secs] = process.argv.slice(2);
const feeds = readFeeds(dir).map(decodeTensor);
const s = await openMLC(fs.readFileSync(file), feeds);
for (let i = 0; i < 5; i++) await s.run();
await new Promise((r) => setTimeout(r, 500));
process.stderr.write(`mark ${process.hrtime.bigint()}\n`);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < secs * 1000) { await s.run(); n++; }
process.stderr.write(`mark ${process.hrtime.bigint()}\n`);
console.log(JSON.stringify({ runs: n, ms: (performance.now() - t0) / n }));
