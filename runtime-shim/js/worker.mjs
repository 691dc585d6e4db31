// The worker side of loadWorker (see pool.mjs for the protocol): runs in a
// browser's module Worker or in a Node worker_threads Worker.
import { instantiate, readMetadata } from "./mlc.mjs";

let post;
if (typeof WorkerGlobalScope !== "undefined" && globalThis instanceof WorkerGlobalScope) {
  post = (msg, transfer) => globalThis.postMessage(msg, transfer);
  globalThis.onmessage = (e) => handle(e.data);
} else {
  const { parentPort } = await import(/* @vite-ignore */ /* webpackIgnore: true */ "node:worker_threads");
  post = (msg, transfer) => parentPort.postMessage(msg, transfer);
  parentPort.on("message", handle);
}

const errorOf = (e) => ({ name: (e && e.name) || "Error", message: (e && e.message) || String(e) });

let model = null;

async function handle(msg) {
  if (msg.op === "init") {
    try {
      model = await instantiate(msg.module, readMetadata(msg.module));
      post({ op: "ready" }, []);
    } catch (e) {
      post({ op: "failed", error: errorOf(e) }, []);
    }
  } else if (msg.op === "run") {
    try {
      model.inputs.forEach((t, i) => model.setInput(t.name, msg.inputs[i]));
      model.invoke();
      const memory = model.instance.exports.memory.buffer;
      const outputs = model.outputs.map((t) => memory.slice(t.offset, t.offset + t.bytes));
      post({ op: "done", id: msg.id, outputs }, outputs);
    } catch (e) {
      post({ op: "done", id: msg.id, error: errorOf(e) }, []);
    }
  }
}
