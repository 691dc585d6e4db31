// Runs the runtime's tests (cases.mjs) under `node --test`. The module is
// tests/fixtures/tiny_cnn.wasm, or $MLC_TEST_MODULE (go test ./runtime-shim/js
// sets it to a module compiled by the current compiler).
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { cases } from "./cases.mjs";
import { load } from "../mlc.mjs";

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
