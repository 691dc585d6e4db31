// Runs the runtime's tests (cases.mjs) under `node --test`. The module is
// tests/fixtures/tiny_cnn.wasm, or $MLC_TEST_MODULE (go test ./runtime-shim/js
// sets it to a module compiled by the current compiler).
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { cases } from "./cases.mjs";

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
