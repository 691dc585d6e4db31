// Runs an mlc module as a plain WASI command on Node's WASI (the same way
// any WASI runtime would): node wasi-command.mjs MODULE.wasm < inputs > outputs
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
const mod = await WebAssembly.compile(readFileSync(process.argv[2]));
const instance = await WebAssembly.instantiate(mod, wasi.getImportObject());
process.exitCode = wasi.start(instance);
