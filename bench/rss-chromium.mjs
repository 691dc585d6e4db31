// Memory of one mlc module in headless Chromium (the system's, driven over
// CDP by playwright-core from examples/browser): node rss-chromium.mjs MODULE.wasm INPUT_BYTES
// Serves the module and the runtime from this repository, loads the module
// in a fresh page from fetched bytes (the runtime's load), drops the bytes,
// then runs once with zeros; prints the growth of the renderer processes'
// RSS (summed over Chromium's process tree) after loading and after the
// first run, and the linear memory.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import os from "node:os";
import { spawn, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const { chromium } = await import(path.join(root, "examples/browser/node_modules/playwright-core/index.mjs"));
const [wasm] = process.argv.slice(2);

const server = http.createServer((req, res) => {
  const u = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const file = u === "/model.wasm" ? wasm : path.join(root, u);
  if (u === "/") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end("<!doctype html><title>rss</title>");
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404);
      return res.end();
    }
    const type = file.endsWith(".wasm") ? "application/wasm" : file.endsWith(".mjs") ? "text/javascript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type });
    res.end(data);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-rss-"));
const chrome = spawn("/usr/bin/chromium", ["--headless=new", "--no-sandbox", "--disable-gpu", `--user-data-dir=${dir}`, "--remote-debugging-port=0", "--js-flags=--expose-gc", "about:blank"], { stdio: ["ignore", "ignore", "pipe"] });
const wsURL = await new Promise((resolve) => {
  let buf = "";
  chrome.stderr.on("data", (d) => {
    buf += d;
    const m = buf.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
});
const browser = await chromium.connectOverCDP(wsURL);
const page = browser.contexts()[0].pages()[0];
await page.goto(`http://127.0.0.1:${port}/`);

// RSS of every process in Chromium's tree, in bytes.
function treeRSS() {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,rss="]).toString().trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  const kids = new Map();
  for (const [pid, ppid] of out) kids.set(ppid, [...(kids.get(ppid) || []), pid]);
  const rss = new Map(out.map(([pid, , r]) => [pid, r * 1024]));
  let sum = 0;
  const walk = (p) => {
    sum += rss.get(p) || 0;
    for (const k of kids.get(p) || []) walk(k);
  };
  walk(chrome.pid);
  return sum;
}
const settle = async () => {
  await page.evaluate(async () => {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 100));
    globalThis.gc();
  });
  await new Promise((r) => setTimeout(r, 300));
};
await page.evaluate(async () => {
  globalThis.mlc = await import("/runtime-shim/js/mlc.mjs");
});
await settle();
const base = treeRSS();
const info = await page.evaluate(async () => {
  let bytes = new Uint8Array(await (await fetch("/model.wasm")).arrayBuffer());
  const n = bytes.length;
  const t0 = performance.now();
  globalThis.model = await globalThis.mlc.load(bytes);
  bytes = null;
  return { moduleBytes: n, loadMs: performance.now() - t0 };
});
await settle();
const loaded = treeRSS();
const run = await page.evaluate(() => {
  const m = globalThis.model;
  const feeds = {};
  for (const t of m.inputs) feeds[t.name] = new Uint8Array(t.bytes);
  const t0 = performance.now();
  m.run(feeds);
  return { runMs: performance.now() - t0, memoryBytes: m.instance.exports.memory.buffer.byteLength };
});
await settle();
const after = treeRSS();
console.log(JSON.stringify({ module: path.basename(wasm), ...info, loadBytes: loaded - base, runBytes: after - base, ...run }));
await browser.close();
chrome.kill();
await new Promise((r) => (chrome.exitCode !== null ? r() : chrome.on("exit", r)));
server.close();
try {
  fs.rmSync(dir, { recursive: true, force: true });
} catch {
  // a profile file Chromium was still writing: the temp folder stays
}
