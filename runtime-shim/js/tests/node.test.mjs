// Runs the runtime's tests (cases.mjs) under `node --test`. The module is
// tests/fixtures/tiny_cnn.wasm, or $MLC_TEST_MODULE (go test ./runtime-shim/js
// sets it to a module compiled by the current compiler).
import { test } from "node:test";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { cases } from "./cases.mjs";
import { load, loadWorker } from "../mlc.mjs";

const file = process.env.MLC_TEST_MODULE || new URL("./fixtures/tiny_cnn.wasm", import.meta.url);
const bytes = new Uint8Array(readFileSync(file));
const threadedFile = process.env.MLC_TEST_THREADED_MODULE || new URL("./fixtures/tiny_cnn_threads.wasm", import.meta.url);
const env = {
  bytes,
  threaded: new Uint8Array(readFileSync(threadedFile)),
  url: typeof file === "string" ? pathToFileURL(file).href : file.href,
  response: (type) => new Response(bytes.slice(), { headers: { "content-type": type } }),
};

for (const c of cases(env)) test(c.name, () => c.fn());

// Node loads its fetch implementation on the first touch of the global
// Response: about 50 ms, ten times a small model's whole cold start.
test("loading bytes does not touch the global Response", async () => {
  const desc = Object.getOwnPropertyDescriptor(globalThis, "Response");
  let touched = 0;
  Object.defineProperty(globalThis, "Response", {
    configurable: true,
    get() {
      touched++;
      return desc.get ? desc.get.call(globalThis) : desc.value;
    },
  });
  try {
    const model = await load(bytes.slice());
    model.run({ [model.inputs[0].name]: new Float32Array(model.inputs[0].bytes / 4) });
  } finally {
    Object.defineProperty(globalThis, "Response", desc);
  }
  assert.equal(touched, 0);
});

// A file path is read piece by piece, the weights straight into memory:
// the same outputs as from bytes, and a file cut anywhere is a clear error.
test("load(path) and loadWorker(path) read the file themselves: same outputs, clear errors on a cut file", async () => {
  const feeds = { image: new Float32Array(64).map((_, i) => (i % 7) / 7) };
  const pathOf = (f) => (f instanceof URL ? fileURLToPath(f) : f);
  for (const path of [pathOf(file), pathOf(threadedFile)]) {
    const want = (await load(readFileSync(path))).run(feeds).probs.data;
    const model = await load(path);
    assert.deepEqual(model.run(feeds).probs.data, want, path);
    await model.close();
    // loadWorker: the worker reads the weights itself (or, threaded, they are placed in the shared memory here).
    const worker = await loadWorker(path, { instances: 2 });
    for (const out of await Promise.all([worker.run(feeds, { transfer: false }), worker.run(feeds, { transfer: false })])) assert.deepEqual(out.probs.data, want, `loadWorker(${path})`);
    await worker.terminate();
  }
  const dir = mkdtempSync(join(tmpdir(), "mlc-shim-"));
  try {
    for (let cut = 0; cut < bytes.length; cut += 331) {
      const cutFile = join(dir, `cut${cut}.wasm`);
      writeFileSync(cutFile, bytes.subarray(0, cut));
      await assert.rejects(load(cutFile), /not a WebAssembly module|truncated WebAssembly module|no "mlc" custom section/, `cut at ${cut}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
