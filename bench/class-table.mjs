// Markdown per-layer-class tables from bench/profile.mjs --json dumps:
//
//   node class-table.mjs [--ceiling GFLOPS] DUMP.json ...
//
// For each model: one row per layer class, its time (sum of node minima)
// and GFLOP/s with the share of the SIMD128 GEMM ceiling, per engine and
// variant found in the dumps. The ceiling is the machine's: measure it
// with tiles.mjs (its 4x8 tile in L1) and pass it; the default, 33, was
// the machine of the earlier sections of docs/benchmarks.md.

import fs from "node:fs";

const args = process.argv.slice(2);
let CEILING = 33.0;
const at = args.indexOf("--ceiling");
if (at >= 0) {
  CEILING = parseFloat(args[at + 1]);
  if (!(CEILING > 0)) throw new Error("--ceiling takes the machine's GFLOP/s, a positive number");
  args.splice(at, 2);
}
const dumps = args.flatMap((f) => JSON.parse(fs.readFileSync(f)));
const models = [...new Set(dumps.map((d) => d.model))];
const f = (s) => (s * 1e3 >= 10 ? (s * 1e3).toFixed(1) : (s * 1e3).toFixed(2));
for (const model of models) {
  const cols = dumps.filter((d) => d.model === model);
  const per = cols.map((c) => {
    const m = new Map();
    for (const r of c.rows) {
      const k = r.class || r.op;
      const e = m.get(k) || { s: 0, flops: 0, n: 0 };
      e.s += r.seconds;
      e.flops += r.flops || 0;
      e.n++;
      m.set(k, e);
    }
    return m;
  });
  const total = per.map((m) => [...m.values()].reduce((a, e) => a + e.s, 0));
  const classes = [...per[per.length - 1].keys()].sort((a, b) => per[per.length - 1].get(b).s - per[per.length - 1].get(a).s);
  console.log(`#### ${model}`);
  console.log("");
  console.log(`| class | nodes | ${cols.map((c) => `${c.engine} ${c.variant}: ms, GFLOP/s (% of ${CEILING})`).join(" | ")} |`);
  console.log(`|---|---:|${cols.map(() => "---:").join("|")}|`);
  for (const k of classes) {
    const cells = per.map((m) => {
      const e = m.get(k);
      if (!e) return "";
      const g = e.flops ? e.flops / e.s / 1e9 : null;
      return `${f(e.s)}${g ? `, ${g.toFixed(1)} (${((100 * g) / CEILING).toFixed(0)}%)` : ""}`;
    });
    console.log(`| ${k} | ${per[per.length - 1].get(k).n} | ${cells.join(" | ")} |`);
  }
  const tf = cols.map((c, i) => {
    const fl = c.rows.reduce((a, r) => a + (r.flops || 0), 0);
    return `**${f(total[i])}**, ${(fl / total[i] / 1e9).toFixed(1)}`;
  });
  console.log(`| all | ${cols[0].rows.length} | ${tf.join(" | ")} |`);
  console.log("");
}
