// Where does the OS run a worker thread woken after an idle gap? Without
// mlc: the main thread sleeps GAP ms, wakes a worker sleeping in
// Atomics.wait (as a threaded module's helper sleeps in
// memory.atomic.wait32), and both run the same fixed work of about W us
// (a counted loop, calibrated on one thread). If the two threads run on
// two cores the round takes ~W; if the kernel puts the woken worker on
// the main thread's core it takes ~2W. Prints per gap the median round
// time over W, the worker's start latency after the notify and both
// threads' run-queue waits per round (/proc/self/task/*/schedstat, Linux).
//
//   node placement.mjs [--work US] [--gaps 0,2,10,50] [--rounds N]
//
// issue 11, thr9: on the project's VM (kernel 6.18 with sched_vcpu_pack=15)
// a worker woken after a 50 ms gap mostly shared the main thread's vCPU.
import fs from "node:fs";
import { Worker } from "node:worker_threads";

const args = process.argv.slice(2);
let W = 2000, gaps = [0, 2, 10, 50], rounds = 30;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--work") W = +args[++i];
  else if (args[i] === "--gaps") gaps = args[++i].split(",").map(Number);
  else if (args[i] === "--rounds") rounds = +args[++i];
}
const spin = (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 1664525 + 1013904223) | 0;
  return x;
};
// calibrate: iterations for W us on this thread, once V8 has optimized the loop
for (let i = 0; i < 50; i++) spin(2e5);
let n = 1e5;
for (;;) {
  const t = performance.now();
  spin(n);
  const us = (performance.now() - t) * 1000;
  if (us > 2000) {
    n = Math.round((n * W) / us);
    break;
  }
  n *= 2;
}
const sab = new SharedArrayBuffer(64);
const a = new Int32Array(sab), f = new Float64Array(sab, 32);
const before = fs.readdirSync("/proc/self/task");
const w = new Worker(
  `const { workerData: [sab, n] } = require("node:worker_threads");
const a = new Int32Array(sab), f = new Float64Array(sab, 32);
const spin = ${spin.toString()};
for (let i = 0; i < 50; i++) spin(2e5);
let g = 0;
for (;;) {
  Atomics.wait(a, 0, g);
  g = Atomics.load(a, 0);
  f[0] = performance.timeOrigin + performance.now();
  spin(n);
  Atomics.store(a, 1, g);
  Atomics.notify(a, 1);
}`,
  { eval: true, workerData: [sab, n] },
);
await new Promise((r) => setTimeout(r, 500));
const tid = fs.readdirSync("/proc/self/task").filter((t) => !before.includes(t)).pop();
const rq = (t) => {
  try {
    return +fs.readFileSync(`/proc/self/task/${t}/schedstat`, "utf8").split(" ")[1] / 1e3;
  } catch {
    return NaN;
  }
};
const med = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
console.log(`work ${W} us (${n} iterations), ${rounds} rounds per gap, load ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const gap of gaps) {
  const res = [];
  for (let i = 0; i < rounds; i++) {
    if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    else await null;
    const q0 = [rq(process.pid), rq(tid)];
    const t = performance.timeOrigin + performance.now();
    const g = Atomics.add(a, 0, 1) + 1;
    Atomics.notify(a, 0);
    spin(n);
    while (Atomics.load(a, 1) !== g) Atomics.wait(a, 1, g - 1, 5);
    const end = performance.timeOrigin + performance.now();
    const q1 = [rq(process.pid), rq(tid)];
    res.push({ round: ((end - t) * 1000) / W, lat: (f[0] - t) * 1000, rqMain: q1[0] - q0[0], rqWorker: q1[1] - q0[1] });
  }
  const k = (key) => med(res.map((r) => r[key]));
  console.log(
    `gap ${String(gap).padStart(3)} ms: round/W median ${k("round").toFixed(2)} (over 1.5: ${res.filter((r) => r.round > 1.5).length}/${rounds}), worker start ${k("lat").toFixed(0)} us, run-queue wait main ${k("rqMain").toFixed(0)} us worker ${k("rqWorker").toFixed(0)} us`,
  );
}
process.exit(0);
