// The main-thread side of loadWorker: one compiled module, N instances, each
// in its own Worker (browsers) or worker_threads Worker (Node), with inputs
// and outputs moved as transferred ArrayBuffers.
//
// Protocol (worker.mjs is the other side), every message an object with `op`:
//   -> {op: "init", module}             <- {op: "ready"} | {op: "failed", error}
//   -> {op: "run", id, inputs: [bytes]} <- {op: "done", id, outputs: [ArrayBuffer]} | {op: "done", id, error}
// inputs and outputs follow the metadata's order; error is {name, message}.
//
// A Lane is what runs one instance: one worker, or for a threaded module
// (ABI 2 or 3) a group of workers sharing one memory, the lane's worker running
// mlc_run ({op: "init", module, memory}) and helpers sleeping in mlc_worker
// (threads.mjs), with the same messages: nothing above Lane (WorkerModel,
// the queue, the transfers) changes.

import { compile, readMetadata, checkMetadata, checkFeeds, feedBytes, tensorOf, _weights } from "./mlc.mjs";
import { threadedABI, sharedMemoryUnavailable, threadMemory, threadCount, unsharedCopy, startHelpers, sourceBytes } from "./threads.mjs";

const isNode = typeof process !== "undefined" && process.versions != null && process.versions.node != null;
const nodeImport = (name) => import(/* @vite-ignore */ /* webpackIgnore: true */ name);

// An endpoint hides the difference between a browser Worker and a Node one.
export async function spawn(workerURL) {
  if (typeof Worker !== "undefined" && !isNode) {
    // Written out literally so that bundlers (Vite, webpack, esbuild) find and emit the worker.
    const w = workerURL ? new Worker(workerURL, { type: "module", name: "mlc" }) : new Worker(new URL("./worker.mjs", import.meta.url), { type: "module", name: "mlc" });
    return {
      post: (msg, transfer) => w.postMessage(msg, transfer || []),
      listen(onMessage, onError) {
        w.onmessage = (e) => onMessage(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          onError(new Error(`mlc worker: ${e.message || "failed to start (is worker.mjs served beside mlc.mjs? see the workerURL option)"}`));
        };
        w.onmessageerror = () => onError(new Error("mlc worker: a message could not be deserialized"));
      },
      busy() {},
      idle() {},
      terminate: async () => w.terminate(),
    };
  }
  const { Worker: NodeWorker } = await nodeImport("node:worker_threads");
  const w = new NodeWorker(workerURL || new URL("./worker.mjs", import.meta.url));
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer || []),
    listen(onMessage, onError) {
      w.on("message", onMessage);
      w.on("error", (e) => onError(e instanceof Error ? e : new Error(String(e))));
      w.on("exit", (code) => onError(new Error(`mlc worker exited with code ${code}`)));
    },
    busy: () => w.ref(),
    idle: () => w.unref(),
    terminate: async () => {
      await w.terminate();
    },
  };
}

function toError(e) {
  const err = new Error(e && e.message ? e.message : String(e));
  if (e && e.name) err.name = e.name;
  return err;
}

class Lane {
  constructor(endpoint) {
    this.endpoint = endpoint;
    this.job = null; // {id, resolve, reject}
    this.dead = null; // the Error that ended this lane
    this.onFree = () => {};
  }

  // init is the rest of the init message: {memory} or {shared: false} for a threaded module.
  static async start(module, workerURL, init = {}) {
    const lane = new Lane(await spawn(workerURL));
    await new Promise((resolve, reject) => {
      let ready = false;
      lane.endpoint.listen(
        (msg) => {
          if (!ready) {
            ready = true;
            lane.endpoint.idle(); // an idle pool does not keep Node's process alive
            if (msg.op === "ready") resolve();
            else reject(toError(msg.error));
            return;
          }
          lane.settle(msg);
        },
        (err) => {
          if (!ready) {
            ready = true;
            reject(err);
          }
          lane.fail(err);
        },
      );
      const { transfer = [], ...weights } = init.weights || {};
      lane.endpoint.post({ op: "init", module, ...init, weights: init.weights && weights }, transfer);
    }).catch(async (e) => {
      await lane.endpoint.terminate();
      throw e;
    });
    return lane;
  }

  run(job, inputs, transfer) {
    this.job = job;
    this.endpoint.busy();
    try {
      this.endpoint.post({ op: "run", id: job.id, inputs }, transfer);
    } catch (e) {
      // Buffers that cannot be transferred (a wasm memory's, say) are copied instead.
      if (transfer.length === 0) throw e;
      this.endpoint.post({ op: "run", id: job.id, inputs: inputs.map((b) => b.slice()) }, []);
    }
  }

  settle(msg) {
    const job = this.job;
    if (msg.op !== "done" || !job || msg.id !== job.id) return;
    this.job = null;
    this.endpoint.idle();
    if (msg.error) job.reject(toError(msg.error));
    else job.resolve(msg.outputs);
    this.onFree();
  }

  fail(err) {
    if (this.dead) return;
    this.dead = err;
    const job = this.job;
    this.job = null;
    if (job) job.reject(err);
    this.onFree();
  }
}

/**
 * A model whose instances run in workers: run() is asynchronous and never
 * blocks the calling thread. Created by loadWorker().
 */
export class WorkerModel {
  constructor(meta, lanes, transfer, threads = 1, warnings = []) {
    this.meta = meta;
    this.inputs = meta.inputs;
    this.outputs = meta.outputs;
    this.instances = lanes.length;
    /** Threads each instance runs on (a threaded module's helpers and its worker). */
    this.threads = threads;
    /** Why instances run on fewer threads than they could (strings). */
    this.warnings = warnings;
    this._lanes = lanes;
    this._transfer = transfer;
    this._queue = [];
    this._nextId = 1;
    this._closed = null;
    for (const lane of lanes) lane.onFree = () => this._dispatch();
  }

  /**
   * Runs the model on one free instance (queued while all are busy) and
   * resolves to every output by name. Input arrays that own their whole
   * ArrayBuffer are transferred to the worker, so they are detached (length
   * 0) after the call; pass {transfer: false} to keep them (one more copy).
   */
  run(feeds, options = {}) {
    if (this._closed) return Promise.reject(this._closed);
    const transfer = options.transfer !== undefined ? options.transfer : this._transfer;
    let inputs;
    const moved = [];
    try {
      checkFeeds(this.inputs, feeds);
      inputs = this.inputs.map((t) => {
        const bytes = feedBytes(t, feeds[t.name]);
        const buf = bytes.buffer;
        const whole = buf instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buf.byteLength;
        if (transfer && whole && !moved.includes(buf)) {
          moved.push(buf);
          return bytes;
        }
        const copy = bytes.slice(); // one copy here, none in transit
        moved.push(copy.buffer);
        return copy;
      });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this._queue.push({ id: this._nextId++, inputs, moved, resolve, reject });
      this._dispatch();
    }).then((buffers) => {
      const out = {};
      this.outputs.forEach((t, i) => (out[t.name] = tensorOf(t, buffers[i])));
      return out;
    });
  }

  _dispatch() {
    const alive = this._lanes.filter((l) => !l.dead);
    if (alive.length === 0) {
      const err = this._lanes.length ? this._lanes[0].dead : new Error("no workers");
      for (const job of this._queue.splice(0)) job.reject(err);
      return;
    }
    for (const lane of alive) {
      if (this._queue.length === 0) return;
      if (lane.job) continue;
      const job = this._queue.shift();
      try {
        lane.run(job, job.inputs, job.moved);
      } catch (e) {
        lane.job = null;
        job.reject(e);
      }
    }
  }

  /** Stops every worker; pending and later runs are rejected. */
  async terminate() {
    if (!this._closed) this._closed = new Error("mlc: the model's workers were terminated");
    for (const job of this._queue.splice(0)) job.reject(this._closed);
    await Promise.all(
      this._lanes.map((lane) => {
        lane.fail(this._closed);
        return Promise.all([lane.endpoint.terminate(), lane.helpers && lane.helpers.stop()]);
      }),
    );
  }
}

// startLane starts one instance: for a threaded module, its memory and
// helpers too. data: the weights split off the module, placed here in a
// shared memory, else by the worker in the memory it creates.
// pre (prefaultable): each instance's memory is made here, shared, and a
// helper thread touches its pages while the worker places the weights.
async function startLane(module, meta, workerURL, threads, unshared, data, pre) {
  if (!threadedABI(meta.abi) && pre) {
    const memory = pre.memory();
    _weights.prefault(memory, meta, data, workerURL);
    return Lane.start(module, workerURL, { memory, weights: await _weights.weightsFor(data) });
  }
  const weights = data && (!threadedABI(meta.abi) || unshared) ? await _weights.weightsFor(data) : undefined;
  if (!threadedABI(meta.abi)) return Lane.start(module, workerURL, { weights });
  if (unshared) return Lane.start(module, workerURL, { shared: false, weights });
  const memory = threadMemory(meta);
  if (pre) _weights.prefault(memory, meta, data, workerURL);
  if (data) await _weights.placeData(memory, data);
  const lane = await Lane.start(module, workerURL, { memory });
  if (threads > 1) {
    try {
      lane.helpers = await startHelpers(module, memory, threads - 1, workerURL);
    } catch (e) {
      await lane.endpoint.terminate();
      throw e;
    }
  }
  return lane;
}

/**
 * Loads an mlc module into `instances` workers (default 1): the module is
 * compiled once, here, and each worker instantiates it. Takes every source
 * load() takes. Options: instances, transfer (default true: see run()),
 * workerURL (where worker.mjs is served, when not beside this file), and for
 * a threaded module (mlc compile --threads N) threads per instance (default:
 * as many as the machine has, at most N). Without shared memory (a page that
 * is not cross-origin isolated) a threaded module runs on one thread per
 * instance and warnings says why. prefault (default true) as load() has it:
 * each instance's memory is made here, shared, and a helper thread touches
 * its pages while the instance's worker places the weights.
 */
export async function loadWorker(source, options = {}) {
  const { instances = 1 } = options;
  if (!Number.isSafeInteger(instances) || instances < 1) throw new RangeError(`instances must be a positive integer, got ${instances}`);
  if (source !== null && typeof source === "object" && typeof source.then === "function") source = await source;
  const bytes = await _weights.openBytes(source);
  try {
    return await loadWorkerFrom(source, bytes, options);
  } finally {
    if (bytes) await bytes.close();
  }
}

// loadWorkerFrom is loadWorker() once the source's bytes are open (null for
// a WebAssembly.Module). As load() does, it compiles the module without its
// weights where it can; each instance's memory gets them from here.
async function loadWorkerFrom(source, bytes, options) {
  const { instances = 1, transfer = true, workerURL } = options;
  const why = sharedMemoryUnavailable();
  const data = bytes && _weights.splitData(bytes);
  const whole = bytes && !data ? await bytes.whole() : null;
  const pre = data && options.prefault !== false ? _weights.prefaultable(data) : null;
  let module = data ? await WebAssembly.compile(pre ? pre.module : data.module) : await compile(whole || source);
  const meta = checkMetadata(readMetadata(module));
  let threads = 1;
  const warnings = [];
  if (threadedABI(meta.abi)) {
    threads = await threadCount(meta, options.threads);
    if (why) {
      if (!bytes) await sourceBytes(source, why); // throws: a WebAssembly.Module cannot be rebuilt
      module = await WebAssembly.compile(unsharedCopy(data ? data.module : whole));
      warnings.push(`running on one thread: ${why}`);
      threads = 1;
    }
  }
  const started = await Promise.allSettled(Array.from({ length: instances }, () => startLane(module, meta, workerURL, threads, !!why, data, pre)));
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(
      started.filter((s) => s.status === "fulfilled").map((s) => Promise.all([s.value.endpoint.terminate(), s.value.helpers && s.value.helpers.stop()])),
    );
    throw failed.reason;
  }
  return new WorkerModel(
    meta,
    started.map((s) => s.value),
    transfer,
    threads,
    warnings,
  );
}
