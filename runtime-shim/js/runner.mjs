// Used by `mlc verify --runtime node`: runs a module on data sets given as
// raw files and writes the raw outputs. Usage: node runner.mjs JOB_DIR
// JOB_DIR/job.json: {"module": "m.wasm", "threads": N (optional), "sets": [{"inputs": {"name": "file"}, "outputs": {"name": "file"}}]}
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "./mlc.mjs";

const dir = process.argv[2];
const job = JSON.parse(readFileSync(join(dir, "job.json"), "utf8"));
const model = await load(readFileSync(join(dir, job.module)), job.threads ? { threads: job.threads } : {});
for (const set of job.sets) {
  for (const [name, file] of Object.entries(set.inputs)) {
    const t = model.inputs.find((i) => i.name === name);
    const buf = readFileSync(join(dir, file));
    // Copy into a fresh Uint8Array view; setInput checks the byte count.
    model.setInput(name, { data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), dtype: t.dtype });
  }
  model.invoke();
  for (const [name, file] of Object.entries(set.outputs)) {
    const out = model.getOutput(name);
    writeFileSync(join(dir, file), new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  }
}
await model.close(); // a threaded module's helper threads
