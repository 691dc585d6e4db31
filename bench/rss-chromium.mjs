// Memory of one mlc module in headless Chromium (the system's):
//   node rss-chromium.mjs MODULE.wasm [bytes|url|worker] [WARM.wasm]
// Serves the module and the runtime from this repository to a fresh page
// that loads the module (bytes: the page fetches them and passes them to
// load(), then drops them; url: load("/model.wasm") fetches them itself;
// worker: loadWorker("/model.wasm"), the model in a Worker of the page),
// then runs once with zeros. Prints the growth of the RSS of Chromium's
// processes after loading and after the first run, and the linear memory:
// of the page's renderer (the one that maps the linear memory) and summed
// over Chromium's process tree, where other processes (another renderer,
// not the page's) add tens of MB of noise. WARM, as in
// rss.mjs: a module fetched, loaded and run before the baseline, so that
// the renderer has paged in its Wasm compilers and network code, a
// one-time cost of any Wasm.
//
// No DevTools protocol: under playwright (CDP, Network domain enabled) the
// renderer kept a mapping of 4/3 of a fetched 8 MB module resident after
// the page dropped it, most likely the inspector's copy of the response
// body, which is not a user's memory. The page itself tells the server
// when to read RSS.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import os from "node:os";
import { spawn, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const [wasm, mode = "bytes", warm] = process.argv.slice(2);

const page = `<!doctype html><title>rss</title><script type="module">
const mlc = await import("/runtime-shim/js/mlc.mjs");
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
};
const mark = async (step) => {
  await settle();
  await fetch("/mark?" + step, { method: "POST" });
};
if (${JSON.stringify(!!warm)}) {
  const m = await mlc.load(new Uint8Array(await (await fetch("/warm.wasm")).arrayBuffer()));
  const f = {};
  for (const t of m.inputs) f[t.name] = new Uint8Array(t.bytes);
  m.run(f);
}
await mark("base");
const t0 = performance.now();
let model;
if (${JSON.stringify(mode)} === "url") {
  model = await mlc.load("/model.wasm");
} else if (${JSON.stringify(mode)} === "worker") {
  model = await mlc.loadWorker("/model.wasm");
} else {
  let bytes = new Uint8Array(await (await fetch("/model.wasm")).arrayBuffer());
  model = await mlc.load(bytes);
  bytes = null;
}
const loadMs = performance.now() - t0;
await mark("loaded");
const feeds = {};
for (const t of model.inputs) feeds[t.name] = new Uint8Array(t.bytes);
const t1 = performance.now();
await model.run(feeds);
const runMs = performance.now() - t1;
await mark("run");
// A worker's memory is not visible here: the module's, in whole pages.
const memoryBytes = model.instance ? model.instance.exports.memory.buffer.byteLength : Math.ceil(model.meta.memory_bytes / 65536) * 65536;
await fetch("/done", { method: "POST", body: JSON.stringify({ loadMs, runMs, memoryBytes }) });
</script>`;

// RSS of every process in Chromium's tree, in bytes, by pid and in all.
let chrome;
function treeRSS() {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,rss="])
    .toString()
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  const kids = new Map();
  for (const [pid, ppid] of out) kids.set(ppid, [...(kids.get(ppid) || []), pid]);
  const rss = new Map(out.map(([pid, , r]) => [pid, r * 1024]));
  const tree = new Map();
  const walk = (p) => {
    tree.set(p, rss.get(p) || 0);
    for (const k of kids.get(p) || []) walk(k);
  };
  walk(chrome.pid);
  tree.set("all", [...tree.values()].reduce((a, b) => a + b, 0));
  return tree;
}

// The process that maps a linear memory of this size (the page's renderer).
function mapsMemory(pids, bytes) {
  return pids.find((pid) => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/maps`, "utf8")
        .split("\n")
        .some((l) => {
          const [a, b] = l.split(" ")[0].split("-");
          return b !== undefined && BigInt("0x" + b) - BigInt("0x" + a) === BigInt(bytes);
        });
    } catch {
      return false; // gone
    }
  });
}

const marks = {};
let done;
const finished = new Promise((r) => (done = r));
const server = http.createServer((req, res) => {
  const u = new URL(req.url, "http://x");
  if (u.pathname === "/mark") {
    // A moment for the page's collections to reach the OS.
    setTimeout(() => {
      marks[u.search.slice(1)] = treeRSS();
      res.end();
    }, 300);
    return;
  }
  if (u.pathname === "/done") {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      res.end();
      done(JSON.parse(body));
    });
    return;
  }
  if (u.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end(page);
  }
  const file = u.pathname === "/model.wasm" ? wasm : u.pathname === "/warm.wasm" ? warm : path.join(root, decodeURIComponent(u.pathname));
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404);
      return res.end();
    }
    const type = file.endsWith(".wasm") ? "application/wasm" : /\.m?js$/.test(file) ? "text/javascript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type, "content-length": data.length });
    res.end(data);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlc-rss-"));
chrome = spawn("/usr/bin/chromium", ["--headless=new", "--no-sandbox", "--disable-gpu", `--user-data-dir=${dir}`, "--js-flags=--expose-gc", `http://127.0.0.1:${port}/`], {
  stdio: "ignore",
});
const info = await finished;
const renderer = mapsMemory([...marks.run.keys()].filter((k) => k !== "all"), info.memoryBytes);
const growth = (step, pid) => marks[step].get(pid) - marks.base.get(pid);
console.log(
  JSON.stringify({
    module: path.basename(wasm),
    mode,
    moduleBytes: fs.statSync(wasm).size,
    loadBytes: growth("loaded", renderer),
    runBytes: growth("run", renderer),
    treeLoadBytes: growth("loaded", "all"),
    treeRunBytes: growth("run", "all"),
    ...info,
  }),
);
chrome.kill();
await new Promise((r) => (chrome.exitCode !== null ? r() : chrome.on("exit", r)));
server.close();
try {
  fs.rmSync(dir, { recursive: true, force: true });
} catch {
  // a profile file Chromium was still writing: the temp folder stays
}
