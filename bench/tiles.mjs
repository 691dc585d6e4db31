// Register tiles of the f32 GEMM micro-kernel in V8, in isolation: a k
// loop of R rows x 4C columns (R*C f32x4 accumulators) over pre-broadcast A
// (R vectors per k step, as the portable shape's expanded panel) and B rows
// ldb bytes apart, unrolled by 4 with an exit test after each step (as
// codegen's dotPortable), A and B in L1; and the peak of independent
// f32x4 multiply-adds. Needs wat2wasm (wabt).
//
//   node tiles.mjs [--steps 64] [--ldb 256] [--tiles 4x8,6x8,...]
//
// Prints GFLOP/s per tile (best of 15 timed passes, after a warm-up
// pass). Check a tile's machine code for spills with
//   node --print-wasm-code --no-liftoff tiles.mjs

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const opt = { steps: 64, ldb: 256, tiles: "4x8,8x4,5x8,6x8,4x12,3x12,2x16" };
for (let v = process.argv.slice(2), i = 0; i < v.length; i++) opt[v[i].replace(/^--/, "")] = v[++i];
const shapes = opt.tiles.split(",").map((t) => t.split("x").map(Number)).map(([R, N]) => [R, N / 4]);

function dot(R, C, U = 4) {
  const L = [`(func $dot${R}x${C} (param $pa i32) (param $pb i32) (param $n i32) (param $ldb i32) (param $pc i32)`];
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) L.push(`(local $c${r}_${c} v128)`);
  for (let c = 0; c < C; c++) L.push(`(local $b${c} v128)`);
  L.push("(local $a v128) (loop $l");
  for (let u = 0; u < U; u++) {
    for (let c = C - 1; c >= 0; c--) L.push(`(local.set $b${c} (v128.load offset=${16 * c} (local.get $pb)))`);
    for (let r = R - 1; r >= 0; r--) {
      L.push(`(local.set $a (v128.load offset=${16 * (u * R + r)} (local.get $pa)))`);
      for (let c = C - 1; c >= 0; c--) L.push(`(local.set $c${r}_${c} (f32x4.add (local.get $c${r}_${c}) (f32x4.mul (local.get $a) (local.get $b${c}))))`);
    }
    L.push("(local.set $pb (i32.add (local.get $pb) (local.get $ldb)))");
    L.push("(local.set $n (i32.sub (local.get $n) (i32.const 1)))");
    if (u < U - 1) L.push("(if (local.get $n) (then");
  }
  L.push(`(local.set $pa (i32.add (local.get $pa) (i32.const ${U * R * 16})))`, "(br_if $l (local.get $n))", "))".repeat(U - 1), ")");
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) L.push(`(v128.store offset=${16 * (r * C + c)} (local.get $pc) (local.get $c${r}_${c}))`);
  return L.join("\n") + ")";
}
// run: reps passes over `tiles` tiles side by side in B (C vectors apart).
const run = (R, C) => `(func (export "run${R}x${C}") (param $reps i32) (param $tiles i32) (param $steps i32) (param $ldb i32) (local $t i32)
 (loop $r (local.set $t (i32.const 0))
  (loop $l (call $dot${R}x${C} (i32.const 0) (i32.add (i32.const 65536) (i32.mul (local.get $t) (i32.const ${C * 16}))) (local.get $steps) (local.get $ldb) (i32.const 1048576))
   (br_if $l (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $tiles))))
  (br_if $r (local.tee $reps (i32.sub (local.get $reps) (i32.const 1))))))`;
// peak: 12 independent chains of acc = acc*y + x, 4 per trip each.
let peak = `(func (export "peak") (param $n i32) (result f32) ${Array.from({ length: 12 }, (_, i) => `(local $a${i} v128)`).join(" ")} (local $x v128) (local $y v128)
 (local.set $x (f32x4.splat (f32.const 1.0001))) (local.set $y (f32x4.splat (f32.const 0.9999))) (loop $l`;
for (let r = 0; r < 4; r++) for (let i = 0; i < 12; i++) peak += `\n(local.set $a${i} (f32x4.add (f32x4.mul (local.get $a${i}) (local.get $y)) (local.get $x)))`;
// Every chain feeds the result: V8 drops the ones that do not.
peak += `\n(br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))`;
peak += `(f32x4.extract_lane 0 ${"(f32x4.add ".repeat(11)}(local.get $a0)${Array.from({ length: 11 }, (_, i) => ` (local.get $a${i + 1}))`).join("")}))`;

const wat = `(module (memory 64)\n${shapes.map(([R, C]) => dot(R, C) + "\n" + run(R, C)).join("\n")}\n${peak})`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-tiles-"));
fs.writeFileSync(path.join(dir, "t.wat"), wat);
execFileSync("wat2wasm", [path.join(dir, "t.wat"), "-o", path.join(dir, "t.wasm")]);
const { instance } = await WebAssembly.instantiate(fs.readFileSync(path.join(dir, "t.wasm")));
const e = instance.exports;
const best = (f) => {
  f();
  let b = Infinity;
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1e3;
};
console.log(`peak (12 chains of f32x4 mul+add): ${((2e6 * 48 * 8) / best(() => e.peak(2e6)) / 1e9).toFixed(1)} GFLOP/s`);
const steps = +opt.steps, ldb = +opt.ldb;
for (const [R, C] of shapes) {
  const tiles = Math.max(1, Math.floor(ldb / (C * 16)));
  const reps = Math.max(1, Math.floor(2e8 / (tiles * steps * R * C * 8)));
  const s = best(() => e[`run${R}x${C}`](reps, tiles, steps, ldb));
  console.log(`${R}x${4 * C} (${R * C} accumulators): ${((reps * tiles * steps * R * C * 8) / s / 1e9).toFixed(1)} GFLOP/s (k steps ${steps}, ldb ${ldb})`);
}
