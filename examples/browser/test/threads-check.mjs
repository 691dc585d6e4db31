// A check of threaded modules in headless Chromium (TestBrowsers runs it in
// checkThreads; by hand as below): the page loads sq1.wasm (mlc compile)
// and sq2.wasm (mlc compile --threads 2) of a 1x3x224x224 image model with
// loadWorker, runs each 5 times and prints, per module, a hash of the first
// output's bits, the mean ms, the threads it got and its warnings. Served with
// --isolate the threaded module runs on 2 threads with the same hash;
// without, on one thread with a warning.
//
//   mlc compile squeezenet1_1/model.onnx -o M/sq1.wasm
//   mlc compile squeezenet1_1/model.onnx --threads 2 -o M/sq2.wasm
//   node server.mjs --port 8731 --models M --isolate &
//   node test/threads-check.mjs http://127.0.0.1:8731/ [chromium]
import { chromium } from "playwright-core";
const [url, exe = "chromium"] = process.argv.slice(2);
const { execFileSync } = await import("node:child_process");
const executablePath = exe.includes("/") ? exe : execFileSync("which", [exe]).toString().trim();
// The same flags as drive.mjs: without the background-networking ones Chromium
// keeps dialling out on a closed network at startup.
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
page.on("console", (m) => console.error("page:", m.text()));
await page.goto(url);
const r = await page.evaluate(async () => {
  const mlc = await import("/runtime/mlc.mjs");
  const x = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001);
  const res = { isolated: self.crossOriginIsolated };
  for (const name of ["sq1", "sq2"]) {
    const m = await mlc.loadWorker(`/models/${name}.wasm`, { threads: 2 });
    const t0 = performance.now();
    let out;
    for (let i = 0; i < 5; i++) out = await m.run({ [m.inputs[0].name]: x.slice() });
    const ms = (performance.now() - t0) / 5;
    let y = Object.values(out)[0]; y = y.data ?? y; res.kind = Object.prototype.toString.call(y);
    let h = 0;
    const u = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (const v of u) h = (Math.imul(h, 31) + v) >>> 0;
    res[name] = { hash: h, ms: Math.round(ms), threads: m.threads, warnings: m.warnings };
    await m.close?.();
  }
  return res;
});
console.log(JSON.stringify(r));
await browser.close();
