// The split-node states of a threaded module, read from its memory (see
// states.mjs): each node's running estimates (us) of its time alone and
// split, the split's CPU time, whether splitting pays, the probe gap and
// the calls so far.
//
// The states (codegen/emit_threads.go, nodeStateSize bytes each, reserved
// in node order after the planned memory) are found by their shape: a
// 64-byte-aligned block whose call count is at most the runs made, whose
// mode and decision words are 0 or 1 and whose probe gap is a power of two
// from probeEvery to maxProbeGap. Calls below the runs made are jobs the
// main thread ran alone while backing off after a stall.
export function readStates(buf, runs) {
  const i32 = new Int32Array(buf), i64 = new BigInt64Array(buf);
  const rows = [];
  for (let a = 0; a + 64 <= buf.byteLength; a += 64) {
    const q = a >> 2;
    const calls = i32[q + 6], gap = i32[q + 13];
    if (calls < 1 || calls > runs + 1 || (i32[q + 7] >>> 0) > 1 || (i32[q + 12] >>> 0) > 1) continue;
    if (![16, 32, 64, 128, 256].includes(gap) || i32[q + 14] <= calls - 256 || i32[q + 14] > calls + 256) continue;
    const us = (off) => Number(i64[(a + off) >> 3]) / 1000;
    rows.push({ a, alone: us(0), split: us(8), cpu: us(16), pays: i32[q + 12], gap, calls });
  }
  return rows;
}

// printStates prints one line per state and a summary line.
export function printStates(rows, log = console.log) {
  let sa = 0, ss = 0, chosen = 0;
  for (const r of rows) {
    sa += r.alone;
    chosen += r.pays ? r.split : r.alone;
    ss += Math.min(r.split, r.alone);
    log(`${r.a}\talone ${r.alone.toFixed(0)}\tsplit ${r.split.toFixed(0)}\tcpu ${r.cpu.toFixed(0)}\tsplit/alone ${(r.split / r.alone).toFixed(2)}\tcpu/alone ${(r.cpu / r.alone).toFixed(2)}\tpays ${r.pays}\tgap ${r.gap}\tcalls ${r.calls}`);
  }
  log(`states ${rows.length}, split ${rows.filter((r) => r.pays).length}; sum alone ${(sa / 1000).toFixed(1)} ms, chosen ${(chosen / 1000).toFixed(1)}, best ${(ss / 1000).toFixed(1)}`);
}
