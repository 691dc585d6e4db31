// One core's read rate in V8 (issue 10, gemv): sums f32x4 over W MiB as one
// sequential stream (seq) or as S interleaved streams (streamsS: W split
// into S chunks, 32 bytes from each in turn), warm (read just before),
// after 64 MiB of dirty writes (cold-dirty) or of reads (cold-clean).
//
//   flock /tmp/mlc-measure.lock node read.mjs [MiB 8] [reps 15]
//
// Needs wat2wasm (wabt) on PATH.
import { execFileSync } from "node:child_process";
const wasm = execFileSync("wat2wasm", [new URL("./read.wat", import.meta.url).pathname, "--output=-"]);
const { instance } = await WebAssembly.instantiate(wasm);
const e = instance.exports;
const MiB = 1 << 20;
const W = parseInt(process.argv[2] || "8") * MiB;
const base = 0, ev = 64 * MiB, evW = 64 * MiB;
// warm
e.dirty(0, 128 * MiB);
function time(f) { const t = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t) / 1e6; }
const cases = [["seq", () => e.seq(base, W)]];
for (const S of [1, 2, 4, 8, 16, 32]) cases.push([`streams${S}`, () => e.streams(base, W, S)]);
const reps = parseInt(process.argv[3] || "15");
for (const mode of ["warm", "cold-dirty", "cold-clean"]) {
  const res = {};
  for (let r = 0; r < reps; r++) for (const [n, f] of cases) {
    if (mode === "cold-dirty") e.dirty(ev, evW);
    if (mode === "cold-clean") e.seq(ev, evW);
    if (mode === "warm") f();
    (res[n] ||= []).push(time(f));
  }
  const line = Object.entries(res).map(([n, t]) => { t.sort((a, b) => a - b); return `${n} ${(W / t[0] / 1e6).toFixed(0)}/${(W / t[t.length >> 1] / 1e6).toFixed(0)}`; });
  console.log(mode, `W=${W / MiB}MiB GB/s best/median:`, line.join("  "));
}
