// The worker side of loadWorker (see pool.mjs for the protocol): runs in a
// browser's module Worker or in a Node worker_threads Worker.
import { instantiate, readMetadata, _weights } from "./mlc.mjs";
import { touchPages } from "./threads.mjs";

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
      // A threaded module comes with its memory ({memory}), or runs on one
      // thread on an unshared one ({shared: false}).
      model = await instantiate(msg.module, readMetadata(msg.module), { memory: msg.memory, shared: msg.shared });
      // The weights split off the module, moved here (see loadWorker).
      if (msg.weights) await _weights.placeWeights(model.instance.exports.memory, msg.weights);
      // The weights' buffer goes back: an idle worker may not collect
      // garbage for a long time, the caller's thread soon.
      const spent = msg.weights && msg.weights.blob ? [msg.weights.blob.buffer] : [];
      post({ op: "ready", spent }, spent);
    } catch (e) {
      post({ op: "failed", error: errorOf(e) }, []);
    }
  } else if (msg.op === "thread") {
    // A helper thread of a threaded module: it sleeps in mlc_worker until
    // the lane's instance hands out work, and returns once mlc_stop is called.
    let instance;
    try {
      instance = (await instantiate(msg.module, readMetadata(msg.module), { memory: msg.memory })).instance;
    } catch (e) {
      post({ op: "failed", error: errorOf(e) }, []);
      return;
    }
    post({ op: "ready" }, []);
    post({ op: "stopped", code: instance.exports.mlc_worker(msg.id) }, []);
  } else if (msg.op === "prefault") {
    // Touches the pages another thread will write (threads.mjs, touchPages), then ends.
    const t0 = performance.now();
    let error;
    try {
      touchPages(msg.memory.buffer, msg.ranges);
    } catch (e) {
      error = errorOf(e);
    }
    post({ op: "prefaulted", at: performance.timeOrigin + t0, ms: performance.now() - t0, error }, []);
  } else if (msg.op === "run") {
    try {
      model.inputs.forEach((t, i) => model.setInput(t.name, msg.inputs[i]));
      model.invoke();
      const memory = model.instance.exports.memory.buffer;
      // Copies into plain ArrayBuffers (a threaded module's memory is shared, and cannot be transferred).
      const outputs = model.outputs.map((t) => new Uint8Array(memory, t.offset, t.bytes).slice().buffer);
      post({ op: "done", id: msg.id, outputs }, outputs);
    } catch (e) {
      post({ op: "done", id: msg.id, error: errorOf(e) }, []);
    }
  }
}
