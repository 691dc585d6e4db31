// Runs an mlc module as a plain WASI command on Node's WASI (the same way
// any WASI runtime would): node wasi-command.mjs MODULE.wasm < inputs > outputs
// A threaded module (ABI 2 or 3) gets the shared memory it imports and runs on
// this one thread.
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
import { readMetadata } from "./mlc.mjs";
import { threadedABI, threadMemory } from "./threads.mjs";

const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
const mod = await WebAssembly.compile(readFileSync(process.argv[2]));
const imports = wasi.getImportObject();
const meta = readMetadata(mod);
if (threadedABI(meta.abi)) imports.env = { memory: threadMemory(meta) };
const instance = await WebAssembly.instantiate(mod, imports);
process.exitCode = wasi.start(instance);
