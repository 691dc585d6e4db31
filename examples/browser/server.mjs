// A tiny static server for the demo (no framework): node server.mjs [--port 8080] [--models DIR]
//   /            this folder (the demo page)
//   /runtime/    ../../runtime-shim/js (the @mlc-compiler/runtime package)
//   /models/     the compiled models and their bindings (default ./models, see build.sh)
//   /ort/        onnxruntime-web's dist folder from ../../bench (for the side-by-side pages), if installed
//   /onnx/       DIR/NAME/model.onnx with --onnx DIR (the ONNX models, for onnxruntime-web)
// It listens on 127.0.0.1 only, sends .wasm as application/wasm (so that
// modules compile while they download) and asks browsers not to cache.
// --isolate adds the COOP/COEP headers that make a page cross-origin
// isolated (SharedArrayBuffer, for threaded modules).
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const port = Number(opt("--port", "8080"));
const roots = [
  ["/runtime/", path.resolve(here, "../../runtime-shim/js")],
  ["/models/", path.resolve(opt("--models", path.join(here, "models")))],
  ["/ort/", path.resolve(here, "../../bench/node_modules/onnxruntime-web/dist")],
  ...(opt("--onnx") ? [["/onnx/", path.resolve(opt("--onnx"))]] : []),
  ["/", here],
];
const isolate = args.includes("--isolate");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".onnx": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".ts": "text/plain; charset=utf-8",
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  let file = null;
  for (const [prefix, dir] of roots) {
    if (!url.pathname.startsWith(prefix)) continue;
    let rel;
    try {
      rel = decodeURIComponent(url.pathname.slice(prefix.length)) || "index.html";
    } catch {
      break; // a malformed %-escape: not found
    }
    const p = path.resolve(dir, rel);
    if (p !== dir && !p.startsWith(dir + path.sep)) break; // no escaping the root
    file = p;
    break;
  }
  const headers = { "cache-control": "no-store" };
  if (isolate) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
  fs.stat(file || "", (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { ...headers, "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    res.writeHead(200, { ...headers, "content-type": TYPES[path.extname(file)] || "application/octet-stream", "content-length": st.size });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
