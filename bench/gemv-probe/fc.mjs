// The GEMV node of profiling modules (mlc compile --profile) in V8 (issue 10,
// gemv), variants alternating in this process: warm (run just before), cold
// (after EV MiB of dirty writes) and after-other-nodes (after the module's
// other nodes, as in a run of the model: the weights last read one run
// earlier). Modules are DIR/MODEL-VARIANT-p.wasm.
//
//   DIR=/tmp/x VARS=base,new flock /tmp/mlc-measure.lock node fc.mjs MODEL [reps 40] [EV 64]
import fs from "node:fs";
import { load } from "../../runtime-shim/js/mlc.mjs";
const [model, reps = "40", evMiB = "64"] = process.argv.slice(2);
const subs = [];
for (const v of (process.env.VARS || "base,new").split(",")) {
  const mod = await WebAssembly.compile(fs.readFileSync(`${process.env.DIR || "."}/${model}-${v}-p.wasm`));
  const nodes = JSON.parse(new TextDecoder().decode(WebAssembly.Module.customSections(mod, "mlc.profile")[0]));
  const m = await load(mod); m.invoke();
  const i = nodes.findIndex((n) => n.class === "gemv");
  subs.push({ v, fn: m.instance.exports.mlc_profile_node, i, n: nodes.length, t: { warm: [], cold: [], model: [] } });
}
const ev = new Float64Array(parseInt(evMiB) * 131072);
for (let r = 0; r < 10; r++) for (const s of subs) s.fn(s.i);
for (let r = 0; r < parseInt(reps); r++) for (const s of subs) {
  s.fn(s.i); let t0 = performance.now(); s.fn(s.i); s.t.warm.push(performance.now() - t0);
  for (let j = 0; j < ev.length; j++) ev[j] = r + j; t0 = performance.now(); s.fn(s.i); s.t.cold.push(performance.now() - t0);
  for (let j = 0; j < s.n; j++) if (j !== s.i) s.fn(j);
  t0 = performance.now(); s.fn(s.i); s.t.model.push(performance.now() - t0);
}
const st = (x) => { x.sort((a, b) => a - b); return `${x[0].toFixed(3)}/${x[x.length >> 1].toFixed(3)}`; };
console.log(model, `evict ${evMiB} MiB, ms min/median:`, subs.map((s) => `${s.v}: warm ${st(s.t.warm)} cold ${st(s.t.cold)} after-other-nodes ${st(s.t.model)}`).join("   "));
