// bench.mjs's timing loop for one model, with what happens inside the
// threaded module laid bare: the 2-thread module, the 1-thread module and
// ORT-web (numThreads 2) alternate as in bench.mjs --threads 2 (a first
// run each, 500 ms of warm-up back to back, then timed runs each after an
// idle gap, then CPU per run over runs of one engine alone after 300 ms),
// and the threaded module's node states are printed after the warm-up and
// at the end, with every timed run's time and its call number.
//
//   node harness.mjs BIN MODEL_DIR [--min-time S] [--gap MS] [--busy] [--no-ort] [--quiet] [--pretrain N]
//
// --pretrain N runs the 2-thread module N times, each after the gap, before
// anything else: its node states then start from the timed runs' setting.
//
// BIN may be BIN1,BIN2[,BIN3...]: the 1-thread module from BIN1, a
// 2-thread module from each of the others (they alternate in that order,
// the first right after ORT-web's run; the states printed are the first's).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { cpuMs, openMLC, openORT, readFeeds } from "./engines.mjs";
import { decodeTensor } from "./onnx.mjs";
import { printStates, readStates } from "./node-states.mjs";

const args = process.argv.slice(2);
let minTime = 3, gap = 50, busy = false, withORT = true, quiet = false, pretrain = 0;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min-time") minTime = parseFloat(args[++i]);
  else if (args[i] === "--gap") gap = parseFloat(args[++i]);
  else if (args[i] === "--busy") busy = true;
  else if (args[i] === "--no-ort") withORT = false;
  else if (args[i] === "--quiet") quiet = true;
  else if (args[i] === "--pretrain") pretrain = parseInt(args[++i]);
  else pos.push(args[i]);
}
const [binArg, dir] = pos;
const bins = binArg.split(",");
const bin1 = bins[0];
const twoBins = bins.length > 1 ? bins.slice(1) : [bin1];
if (busy) {
  const p = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  p.unref();
  process.on("exit", () => p.kill());
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-harness-"));
const model = path.join(dir, "model.onnx");
const feeds = readFeeds(dir).map(decodeTensor);
const compile = (bin, out, flags) => execFileSync(bin, ["compile", model, "-o", out, ...flags], { stdio: "ignore" });
twoBins.forEach((b, i) => compile(b, path.join(tmp, `two${i}.wasm`), ["--threads", "2"]));
compile(bin1, path.join(tmp, "one.wasm"), []);
const o = withORT ? await openORT(fs.readFileSync(model), feeds, 2) : null;
for (let i = 0; i < feeds.length; i++) feeds[i].name = feeds[i].name || o.session.inputNames[i];
const twos = [];
for (let i = 0; i < twoBins.length; i++) twos.push(await openMLC(fs.readFileSync(path.join(tmp, `two${i}.wasm`)), feeds, 2));
const two = twos[0];
const one = await openMLC(fs.readFileSync(path.join(tmp, "one.wasm")), feeds, 1);
const twoKeys = twos.map((_, i) => (i === 0 ? "two" : `two${i}`));
const engines = [...twos.map((e, i) => [twoKeys[i], e]), ["one", one], ...(o ? [["ort", o]] : [])];
const calls = Object.fromEntries(engines.map(([k]) => [k, 0]));
const run = async (k, e) => {
  calls[k]++;
  await e.run();
};
for (let i = 0; i < pretrain; i++) {
  for (const [k, e] of engines.slice(0, twos.length)) {
    if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    await run(k, e);
  }
}
for (const [k, e] of engines) await run(k, e);
const warm = performance.now();
while (performance.now() - warm < 500) for (const [k, e] of engines) await run(k, e);
const mem = () => two.model._memory.buffer;
if (!quiet) {
  console.log(`after the warm-up (${calls.two} calls):`);
  printStates(readStates(mem(), calls.two));
}
const times = Object.fromEntries(engines.map(([k]) => [k, []]));
const at = [];
const began = performance.now();
const settle = () => (gap > 0 ? new Promise((r) => setTimeout(r, gap)) : null);
while (performance.now() - began < minTime * 1000 || times.two.length < 10) {
  for (const [k, e] of engines) {
    await settle();
    const t0 = performance.now();
    await run(k, e);
    times[k].push(performance.now() - t0);
    if (k === "two") at.push(calls.two);
  }
}
async function cpuPerRun(k, e, runs) {
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuMs();
  for (let i = 0; i < runs; i++) await run(k, e);
  return (cpuMs() - c0) / runs;
}
const cpuRuns = Math.max(3, Math.min(20, Math.round(times.two.length / 2)));
const cpu = {};
for (const [k, e] of [...engines.filter(([k]) => k === "ort"), ...engines.filter(([k]) => k !== "ort")]) cpu[k] = await cpuPerRun(k, e, cpuRuns); // ORT first, as bench.mjs
// CPU over at least 1 s of runs (bench.mjs's 3-20 runs of a small model
// weigh a few ms of V8's or ORT's background threads heavily).
const cpuLong = {};
for (const [k, e] of engines.filter(([k]) => k !== "ort")) {
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuMs(), t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000 || n < 3) {
    await run(k, e);
    n++;
  }
  cpuLong[k] = (cpuMs() - c0) / n;
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
if (!quiet) {
  console.log(`at the end (${calls.two} calls):`);
  printStates(readStates(mem(), calls.two));
  console.log("timed runs of the 2-thread module (call: ms / 1-thread ms): " + times.two.map((t, i) => `${at[i]}: ${t.toFixed(1)}/${times.one[i].toFixed(1)}`).join(" "));
}
const f = (x) => (x === undefined ? "-" : x.toFixed(2));
console.log(
  `${path.basename(dir)} gap ${gap}${busy ? " busy" : ""}${o ? "" : " no-ort"}${pretrain ? ` pretrain ${pretrain}` : ""} load ${os.loadavg()[0].toFixed(2)}: 1-thread median ${f(med(times.one))} ms, CPU ${f(cpu.one)} ms/run (1 s: ${f(cpuLong.one)}); ORT ${o ? f(med(times.ort)) : "-"} ms; ${cpuRuns} CPU runs`,
);
twoKeys.forEach((k, i) => {
  const paired = med(times[k].map((t, j) => times.one[j] / t));
  console.log(`  2 threads ${twoBins[i]}: median ${f(med(times[k]))} ms, speed-up ${f(med(times.one) / med(times[k]))} (paired ${f(paired)}), CPU ${f(cpu[k])} ms/run (x${f(cpu[k] / cpu.one)}; over 1 s x${f(cpuLong[k] / cpuLong.one)})`);
});
for (const [, e] of engines) await (e.close ? e.close() : e.session.release());
fs.rmSync(tmp, { recursive: true, force: true });
