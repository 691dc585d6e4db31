// Threaded modules (ABI versions 2 and 3: mlc compile --threads N; docs/abi.md).
//
// A threaded module imports its memory, shared, as env.memory. The thread
// that calls mlc_run owns one instance; each helper thread instantiates the
// same module on the same memory and calls mlc_worker(id), which sleeps on
// an atomic word until mlc_run hands out work and returns once mlc_stop is
// called. Helpers are Workers (browsers) or worker_threads (Node) running
// worker.mjs with {op: "thread", module, memory, id}.
//
// Where shared memory does not exist (a page that is not cross-origin
// isolated) the module still runs, on one thread: its memory import is
// rewritten as unshared, which Wasm allows with atomics (no helper ever
// waits, and the thread running mlc_run only waits for chunks a helper took).

import { spawn } from "./pool.mjs";
import { ByteReader, sections, uleb, sectionPieces, concatBytes } from "./wasm-bytes.mjs";

export const ABI_THREADS = 2;
/** ABI 2 plus the WASI monotonic clock (clock_time_get), with which the module times the nodes it splits: what mlc compile --threads N emits. */
export const ABI_TIMED_THREADS = 3;

/** Whether modules of this ABI version are threaded (import a shared memory, run helper threads). */
export const threadedABI = (abi) => abi === ABI_THREADS || abi === ABI_TIMED_THREADS;

/**
 * clock_time_get for a threaded module (ABI 3): nanoseconds of a monotonic
 * clock written at ptr. A module only subtracts readings of one thread, so
 * each thread's own performance.now() serves (browsers coarsen it to some
 * microseconds; the module times nodes of a hundred and more).
 */
export function monotonicClock(memory) {
  let view = null;
  return (_id, _precision, ptr) => {
    if (view === null) view = new DataView(memory.buffer);
    view.setBigUint64(ptr, BigInt(Math.round(performance.now() * 1e6)), true);
    return 0;
  };
}

const isNode = typeof process !== "undefined" && process.versions != null && process.versions.node != null;
const nodeImport = (name) => import(/* @vite-ignore */ /* webpackIgnore: true */ name);

/** Why a shared WebAssembly.Memory cannot be made here, or "" when it can. */
export function sharedMemoryUnavailable() {
  const isolation =
    "the page is not cross-origin isolated: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";
  if (typeof crossOriginIsolated !== "undefined" && crossOriginIsolated === false) return isolation;
  if (typeof SharedArrayBuffer === "undefined") return isNode ? "SharedArrayBuffer is not available" : isolation;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `shared WebAssembly memory is not available: ${e.message}`;
  }
  return "";
}

/** Whether this thread may block in a wait (every thread but a page's main thread). */
export function canBlock() {
  if (isNode) return true;
  return typeof WorkerGlobalScope !== "undefined" && globalThis instanceof WorkerGlobalScope;
}

/** The memory of a threaded module: memory_bytes in 64 KiB pages, fixed size. */
export function threadMemory(meta, shared = true) {
  const pages = Math.max(1, Math.ceil(meta.memory_bytes / 65536));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
}

/** How many threads the machine has (at least 1). */
export async function hardwareThreads() {
  if (isNode) {
    const os = await nodeImport("node:os");
    return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
  }
  return Math.max(1, (typeof navigator !== "undefined" && navigator.hardwareConcurrency) || 1);
}

/**
 * The threads to use for a threaded module: the option (default: all the
 * machine has), at most what the module was compiled for.
 */
export async function threadCount(meta, requested) {
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested < 1)) {
    throw new RangeError(`threads must be a positive integer, got ${requested}`);
  }
  const want = requested !== undefined ? requested : await hardwareThreads();
  return Math.min(want, meta.threads);
}

/**
 * A copy of module bytes whose memory import is unshared: the module then
 * runs on one thread where shared memory is unavailable. Throws if the
 * bytes have no shared memory import.
 */
export function unsharedCopy(bytes) {
  const b = new Uint8Array(bytes); // a copy
  for (const section of sections(b)) {
    if (section.id !== 2) continue;
    const r = new ByteReader(b, section.body, section.end);
    const limits = () => {
      const flag = r.byte();
      r.u32();
      if (flag & 1) r.u32();
    };
    for (let n = r.u32(); n > 0; n--) {
      r.skip(r.u32()); // module name
      r.skip(r.u32()); // field name
      const kind = r.byte();
      if (kind === 0) r.u32();
      else if (kind === 1) {
        r.byte();
        limits();
      } else if (kind === 3) r.skip(2);
      else if (kind === 2) {
        if (b[r.pos] === 3) {
          b[r.pos] = 1;
          return b;
        }
        limits();
      }
    }
  }
  throw new Error("mlc: the module has no shared memory import");
}

/**
 * A copy of single-threaded module bytes (ABI 1, the weights split off:
 * small) whose own memory becomes an imported shared one, env.memory, with
 * the same limits: another thread may then touch its pages (prefault). The
 * code is unchanged; every instruction of a module runs alike on a shared
 * memory. Returns the bytes and the limits (64 KiB pages), or null when the
 * module has no import section or its one memory has no maximum (a shared
 * memory needs one).
 * @param {Uint8Array} bytes
 */
export function sharedMemoryCopy(bytes) {
  let imports = null;
  let limits = null;
  for (const section of sections(bytes)) {
    if (section.id === 2) imports = section;
    if (section.id === 5) {
      const r = new ByteReader(bytes, section.body, section.end);
      if (r.u32() !== 1) return null;
      const flag = r.byte();
      if (flag !== 1) return null; // no maximum, or already shared or 64-bit
      limits = { initial: r.u32(), maximum: r.u32(), memory: section };
    }
  }
  if (!imports || !limits) return null;
  const text = (s) => [...uleb(s.length), ...new TextEncoder().encode(s)];
  const r = new ByteReader(bytes, imports.body, imports.end);
  const count = r.u32();
  const entries = bytes.subarray(r.pos, imports.end);
  const entry = Uint8Array.from([...text("env"), ...text("memory"), 2, 3, ...uleb(limits.initial), ...uleb(limits.maximum)]);
  if (limits.memory.start < imports.end) return null; // sections out of order
  const out = concatBytes([
    bytes.subarray(0, imports.start),
    ...sectionPieces(2, [uleb(count + 1), entries, entry]),
    bytes.subarray(imports.end, limits.memory.start),
    bytes.subarray(limits.memory.end),
  ]);
  return { bytes: out, initial: limits.initial, maximum: limits.maximum };
}

// ---- prefaulting: a helper thread touches the pages first -----------------
//
// A page of a fresh memory costs the thread that first touches it a fault
// (on some virtual machines ~10 us, so ~40 ms per 16 MB: most of a large
// model's cold start goes to placing its weights). Faults on different
// threads proceed in parallel, and a page touched once is present for every
// thread: so while this thread compiles, instantiates and copies the
// weights in, a helper thread touches the pages the weights and the first
// run will write, from the far end of the weights backwards (this thread
// copies them from the start), then the inputs and the arena in address
// order. A touch is Atomics.or(word, 0): an atomic read-modify-write that
// writes back the value it read while holding the word's cache line, so it
// never changes memory, even racing this thread's copies and the module's
// stores (docs/design.md, "A helper thread touches the pages first").

/** Bytes between touches: the smallest page size of the systems the runtime runs on. */
export const PREFAULT_STEP = 4096;

/**
 * The ranges of memory a helper touches for a module whose weights are
 * placed from `segments` ({offset, bytes}, from mlc.data), in its order:
 * each segment from its end down to its start (the last segment first),
 * then from the weights' end up to memory_bytes (inputs, arena, outputs).
 * Each range is [from, to, down]: bytes [from, to), touched downwards if down.
 * @param {{memory_bytes: number}} meta
 * @param {{offset: number, bytes: number}[]} segments
 * @param {number} memoryBytes the memory's size
 * @returns {[number, number, boolean][]}
 */
export function prefaultRanges(meta, segments, memoryBytes) {
  const end = Math.min(meta.memory_bytes, memoryBytes);
  const ranges = [];
  let top = 0;
  for (const s of [...segments].sort((a, b) => b.offset - a.offset)) {
    const to = Math.min(s.offset + s.bytes, end);
    if (s.offset < to) ranges.push([s.offset, to, true]);
    top = Math.max(top, to);
  }
  if (top < end) ranges.push([top, end, false]);
  return ranges;
}

/**
 * Touches one word of every page of each range (prefaultRanges), without
 * changing memory. Runs on the helper thread.
 * @param {SharedArrayBuffer} buffer
 * @param {[number, number, boolean][]} ranges
 */
export function touchPages(buffer, ranges, step = PREFAULT_STEP) {
  const words = new Int32Array(buffer);
  for (const [from, to, down] of ranges) {
    if (!(from >= 0 && to <= buffer.byteLength && from < to)) continue;
    const first = Math.floor(from / step) * step;
    if (down) {
      for (let p = Math.floor((to - 1) / step) * step; p >= first; p -= step) Atomics.or(words, Math.max(p, from) >> 2, 0);
    } else {
      for (let p = first; p < to; p += step) Atomics.or(words, Math.max(p, from) >> 2, 0);
    }
  }
}

/**
 * Starts a helper thread that touches the ranges of a shared memory
 * (touchPages) and ends; nothing waits for it, and a helper that cannot
 * start changes nothing (the pages are then faulted where they are
 * written, as without it; none starts on a machine of one core). Resolves
 * to its report once it ended ({at, ms}: when it began touching, as
 * performance.timeOrigin + now(), and for how long; error if touching
 * failed), or null if it did not start.
 * @param {WebAssembly.Memory} memory
 * @param {[number, number, boolean][]} ranges
 * @param {string | URL} [workerURL]
 */
export async function startPrefault(memory, ranges, workerURL) {
  // With one core the touches only move between threads, and starting one costs.
  if ((await hardwareThreads()) < 2) return null;
  let endpoint;
  try {
    endpoint = isNode && !workerURL ? await spawnToucher() : await spawn(workerURL);
  } catch {
    return null;
  }
  const done = new Promise((resolve) => {
    const end = (report) => {
      resolve(report);
      endpoint.terminate().catch(() => {});
    };
    endpoint.listen(
      (msg) => end(msg.op === "prefaulted" ? { at: msg.at, ms: msg.ms, error: msg.error } : null),
      () => end(null),
    );
  });
  try {
    endpoint.post({ op: "prefault", memory, ranges });
  } catch {
    await endpoint.terminate();
    return null;
  }
  endpoint.idle(); // it does not keep Node's process alive
  return done;
}

// spawnToucher is spawn() for the prefault helper in Node: a worker of
// touchPages' source alone (about 30 ms sooner at work than worker.mjs,
// which imports the runtime's modules first), with spawn()'s endpoint.
async function spawnToucher() {
  const { Worker } = await nodeImport("node:worker_threads");
  const code = `const { parentPort } = require("node:worker_threads");
const touchPages = ${touchPages.toString()};
parentPort.once("message", (msg) => {
  const t0 = performance.now();
  let error;
  try {
    touchPages(msg.memory.buffer, msg.ranges, ${PREFAULT_STEP});
  } catch (e) {
    error = { name: (e && e.name) || "Error", message: (e && e.message) || String(e) };
  }
  parentPort.postMessage({ op: "prefaulted", at: performance.timeOrigin + t0, ms: performance.now() - t0, error });
});`;
  const w = new Worker(code, { eval: true });
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer || []),
    listen(onMessage, onError) {
      w.on("message", onMessage);
      w.on("error", (e) => onError(e instanceof Error ? e : new Error(String(e))));
      w.on("exit", (code) => onError(new Error(`mlc prefault helper exited with code ${code}`)));
    },
    idle: () => w.unref(),
    terminate: async () => {
      await w.terminate();
    },
  };
}

/**
 * Starts `count` helper threads on a threaded module's memory, with ids
 * 1..count; resolves once each has instantiated the module (and is about to
 * sleep in mlc_worker). The result's stop() ends them: call the module's
 * mlc_stop first, then stop() waits for each to return and terminates it.
 */
export async function startHelpers(module, memory, count, workerURL) {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startHelper(module, memory, i + 1, workerURL)));
  const helpers = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(helpers.map((h) => h.endpoint.terminate()));
    throw failed.reason;
  }
  return {
    count: helpers.length,
    async stop() {
      // A helper returns from mlc_worker after its current chunk; one that
      // does not within a second is terminated all the same.
      await Promise.all(helpers.map((h) => Promise.race([h.stopped, new Promise((r) => setTimeout(r, 1000))])));
      await Promise.all(helpers.map((h) => h.endpoint.terminate()));
    },
  };
}

async function startHelper(module, memory, id, workerURL) {
  const endpoint = await spawn(workerURL);
  let stoppedResolve;
  const stopped = new Promise((r) => (stoppedResolve = r));
  await new Promise((resolve, reject) => {
    let ready = false;
    endpoint.listen(
      (msg) => {
        if (!ready) {
          ready = true;
          if (msg.op === "ready") resolve();
          else reject(new Error(`mlc helper thread ${id}: ${msg.error ? msg.error.message : "failed to start"}`));
          return;
        }
        if (msg.op === "stopped") stoppedResolve(msg.code);
      },
      (err) => {
        stoppedResolve(undefined);
        if (!ready) {
          ready = true;
          reject(err);
        }
      },
    );
    endpoint.post({ op: "thread", module, memory, id });
  }).catch(async (e) => {
    await endpoint.terminate();
    throw e;
  });
  endpoint.idle(); // a sleeping helper does not keep Node's process alive
  return { endpoint, stopped };
}

// urlBytes reads a URL whole: a path or file: URL from disk in Node.
async function urlBytes(url) {
  let u = url;
  if (typeof url === "string") {
    const hasScheme = /^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[a-z]:[\\/]/i.test(url);
    if (isNode && !hasScheme) return (await nodeImport("node:fs/promises")).readFile(url);
    u = new URL(url, typeof location !== "undefined" ? location.href : undefined);
  }
  if (u.protocol === "file:" && isNode) return (await nodeImport("node:fs/promises")).readFile(u);
  const res = await fetch(u);
  if (!res.ok) throw new Error(`fetching ${res.url || u}: HTTP ${res.status} ${res.statusText || ""}`.trim());
  return res.arrayBuffer();
}

// sourceBytes reads a source's bytes again, for a threaded module that must
// be rebuilt (a URL is fetched again, usually from the cache).
export async function sourceBytes(source, why) {
  if (source !== null && typeof source === "object" && typeof source.then === "function") source = await source;
  if (source instanceof WebAssembly.Module) {
    throw new Error(
      `mlc: this module was compiled with --threads and ${why}; to run it on one thread, pass its bytes or URL to load() or loadWorker(), not a WebAssembly.Module`,
    );
  }
  if (typeof source === "string" || source instanceof URL) return urlBytes(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return new Uint8Array(source);
}
