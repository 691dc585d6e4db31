// The GEMV kernel's inner loop in V8 (issue 10, gemv) over K x N float32
// weights in 32-column groups: v0 as codegen's gemvKernel reads them (four
// 8-column PackB panels, 32 bytes each per k), v0pad the same with panels
// 192 bytes further apart, p1/p2 one or two panels at a time, v2 one
// 32-column panel (128 contiguous bytes per k: ir.PackBRows' order). Warm
// (run just before) and cold (after EV MiB of dirty writes). Same sums in
// the same order in every variant. gemv.wat was generated (8 accumulators,
// mul then add, as the plain SIMD module).
//
//   flock /tmp/mlc-measure.lock node gemv.mjs [K 2048] [N 1000] [reps 20] [offset 0] [EV 64]
//
// Needs wat2wasm (wabt) on PATH.
import { execFileSync } from "node:child_process";
const wasm = execFileSync("wat2wasm", [new URL("./gemv.wat", import.meta.url).pathname, "--output=-"]);
const { instance } = await WebAssembly.instantiate(wasm);
const e = instance.exports;
const MiB = 1 << 20;
const K = parseInt(process.argv[2] || "2048"), N = parseInt(process.argv[3] || "1000");
const G = Math.ceil(N / 32), W = G * 32 * K * 4;
const A = 100 * MiB, B = parseInt(process.argv[5] || "0"), OUT = 101 * MiB, EV = 32 * MiB, EVW = parseInt(process.argv[6] || "64") * MiB;
const f32 = new Float32Array(e.mem.buffer);
for (let i = 0; i < W / 4; i++) f32[i] = (i % 7) * 0.25;
for (let i = 0; i < K; i++) f32[A / 4 + i] = (i % 5) * 0.5;
const panel = K * 32; // bytes of one 8-wide panel
const run = {
  v0: () => { for (let g = 0; g < G; g++) e.v0(A, B + g * 4 * panel, K, panel, OUT + g * 128); },

  v0pad: () => { const P = panel + 192; for (let g = 0; g < G; g++) e.v0(A, B + g * 4 * P, K, P, OUT + g * 128); },
  p1: () => { for (let p = 0; p < G * 4; p++) e.p1(A, B + p * panel, K, panel, OUT + p * 32); },
  p2: () => { for (let p = 0; p < G * 4; p += 2) e.p2(A, B + p * panel, K, panel, OUT + p * 32); },
  v2: () => { for (let g = 0; g < G; g++) e.v2(A, B + g * 4 * panel, K, panel, OUT + g * 128); },

};
function time(f) { const t = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t) / 1e6; }
const reps = parseInt(process.argv[4] || "20");
for (const mode of ["warm", "cold"]) {
  const res = {};
  for (let r = 0; r < reps; r++) for (const [n, f] of Object.entries(run)) {
    if (mode === "cold") e.dirty(EV, EVW); else f();
    (res[n] ||= []).push(time(f));
  }
  console.log(mode, `K=${K} N=${N} ${(W / MiB).toFixed(1)}MiB  GB/s best/median (ms min):`, Object.entries(res).map(([n, t]) => { t.sort((a, b) => a - b); return `${n} ${(W / t[0] / 1e6).toFixed(0)}/${(W / t[t.length >> 1] / 1e6).toFixed(0)} (${t[0].toFixed(3)})`; }).join("  "));
}
