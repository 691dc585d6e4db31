// Where an mlc module's RSS growth on load lives, by mapping (Linux):
//   node --expose-gc rss-maps.mjs [--path] [--feeds MODEL_DIR] MODULE.wasm [WARM.wasm]
// Loads the module as rss.mjs does (bytes read by the caller, or with
// --path the file path given to load()), and prints after each step the
// growth of resident memory over a baseline, from /proc/self/smaps, split
// by kind of mapping: the Wasm linear memory (V8's reservation of several
// GB with guard regions), malloc's heap (the brk [heap] and glibc's other
// arenas cannot be told from V8's own anonymous mappings by name, so every
// other anonymous mapping is "anon"), executable anonymous mappings (V8's
// code spaces, Wasm code included) and file-backed mappings (the node binary
// and shared libraries paged in). WARM as in rss.mjs; --feeds reads and
// decodes the model's test inputs first, as rss.mjs does (which changes
// where malloc puts the module's bytes).

import fs from "node:fs";
import v8 from "node:v8";
import { load } from "../runtime-shim/js/mlc.mjs";

const args = process.argv.slice(2);
const byPath = args[0] === "--path";
if (byPath) args.shift();
let inputs = null;
if (args[0] === "--feeds") {
  const { readFeeds } = await import("./engines.mjs");
  const { decodeTensor } = await import("./onnx.mjs");
  inputs = readFeeds(args[1]).map(decodeTensor);
  args.splice(0, 2);
}
const [file, warm] = args;

// The mappings of this process: start address -> size, permissions,
// whether file-backed, name, resident KB.
function mappings() {
  const out = new Map();
  let cur = null;
  for (const line of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/);
    if (m) {
      cur = { size: Number(BigInt("0x" + m[2]) - BigInt("0x" + m[1])), perms: m[3], file: m[4] !== "0", name: m[5], kb: 0 };
      out.set(m[1], cur);
      continue;
    }
    const r = line.match(/^Rss:\s+(\d+) kB/);
    if (r && cur) cur.kb = Number(r[1]);
  }
  return out;
}

// kindOf names a mapping's kind; the linear memory is the anonymous
// mapping of the memory's size (V8 maps a 64-bit host's memory exactly,
// guard regions aside, which are never resident).
function kindOf(x, memoryBytes) {
  if (x.name === "[heap]") return "heap";
  if (x.file) return "file";
  if (x.size >= memoryBytes && x.size - memoryBytes < 2 ** 33) return "memory";
  if (x.perms.includes("x")) return "code";
  return "anon";
}

const settle = async () => {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc();
};

if (warm) {
  const m = await load(fs.readFileSync(warm));
  const f = {};
  for (const t of m.inputs) f[t.name] = new Uint8Array(t.bytes);
  m.run(f);
}
await settle();
const baseline = mappings();
const baseHeap = v8.getHeapStatistics();
const snapshots = [];
const mark = (step) => snapshots.push({ step, maps: mappings(), heap: v8.getHeapStatistics() });
let bytes = byPath ? null : fs.readFileSync(file);
mark("read");
const model = await load(byPath ? file : bytes);
mark("loaded");
bytes = null;
await settle();
mark("bytes dropped");
const feeds = {};
for (const t of model.inputs) feeds[t.name] = new Uint8Array(t.bytes);
model.run(feeds);
await settle();
mark("first run");

const memoryBytes = model.instance.exports.memory.buffer.byteLength;
const byKind = (maps) => {
  const kinds = { memory: 0, heap: 0, anon: 0, code: 0, file: 0 };
  for (const x of maps.values()) kinds[kindOf(x, memoryBytes)] += x.kb;
  return kinds;
};
const base = byKind(baseline);
const rows = snapshots.map(({ step, maps, heap }) => {
  const now = byKind(maps);
  const row = { step };
  let total = 0;
  for (const k of Object.keys(now)) {
    row[k] = ((now[k] - base[k]) / 1024).toFixed(2);
    total += now[k] - base[k];
  }
  row.total = (total / 1024).toFixed(2);
  // Of the anonymous memory: V8's JavaScript heap (resident pages) and what V8 malloced.
  row["of anon: JS heap"] = ((heap.total_physical_size - baseHeap.total_physical_size) / 2 ** 20).toFixed(2);
  row["V8 malloc"] = ((heap.malloced_memory - baseHeap.malloced_memory) / 2 ** 20).toFixed(2);
  return row;
});
console.log(`${file} (${(fs.statSync(file).size / 2 ** 20).toFixed(2)} MiB, memory ${(memoryBytes / 2 ** 20).toFixed(2)} MiB), RSS growth in MiB by mapping`);
console.table(rows);
