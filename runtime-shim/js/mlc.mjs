// mlc runtime for JavaScript (Node and browsers), dependency-free.
//
//   import { load } from "@mlc-compiler/runtime";
//   const model = await load("model.wasm");          // or a fetch(), bytes, a URL, a WebAssembly.Module
//   const { probs } = model.run({ image: float32Array });
//   probs.data                                       // Float32Array
//
//   const worker = await loadWorker("model.wasm");   // the same API, run() async in a Worker
//   const { probs } = await worker.run({ image: float32Array });
//
// It speaks ABI versions 1, 2 and 3 (docs/abi.md): inputs are written at their
// offsets in the module's memory, mlc_run() is called, outputs are read back.
// Version 2 and 3 modules (mlc compile --threads N) also run helper threads on a
// shared memory (threads.mjs).

import { ABI_THREADS, ABI_TIMED_THREADS, threadedABI, monotonicClock, sharedMemoryUnavailable, canBlock, threadMemory, threadCount, unsharedCopy, startHelpers, sourceBytes, sharedMemoryCopy, prefaultRanges, startPrefault } from "./threads.mjs";
import { ByteReader, sections, sectionsAt, customName, uleb, sectionPieces, concatBytes } from "./wasm-bytes.mjs";

export const ABI_VERSION = 1;
export { ABI_THREADS, ABI_TIMED_THREADS };

// Each dtype of ABI v1: the typed array holding its elements and its storage
// bits per element (sub-byte types pack two or four elements per byte, low
// bits first, and travel as raw Uint8Array bytes).
const DTYPES = {
  float32: [Float32Array, 32],
  float64: [Float64Array, 64],
  float16: [Uint16Array, 16], // raw IEEE half bits
  bfloat16: [Uint16Array, 16], // raw bits
  int8: [Int8Array, 8],
  int16: [Int16Array, 16],
  int32: [Int32Array, 32],
  int64: [BigInt64Array, 64],
  uint8: [Uint8Array, 8],
  uint16: [Uint16Array, 16],
  uint32: [Uint32Array, 32],
  uint64: [BigUint64Array, 64],
  bool: [Uint8Array, 8],
  float8_e4m3fn: [Uint8Array, 8],
  float8_e4m3fnuz: [Uint8Array, 8],
  float8_e5m2: [Uint8Array, 8],
  float8_e5m2fnuz: [Uint8Array, 8],
  float8_e8m0fnu: [Uint8Array, 8],
  float4_e2m1fn: [Uint8Array, 4],
  int4: [Uint8Array, 4],
  uint4: [Uint8Array, 4],
  int2: [Uint8Array, 2],
  uint2: [Uint8Array, 2],
};

/** The typed array class holding elements of a dtype (Uint8Array for packed and 8-bit float types). */
export function arrayTypeOf(dtype) {
  const d = DTYPES[dtype];
  return d ? d[0] : Uint8Array;
}

/** The byte size of a tensor of this dtype and shape, or an Error saying why there is none. */
export function tensorBytes(dtype, shape) {
  const d = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (!d) return new Error(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape)) return new Error("shape is not an array");
  let n = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) return new Error(`dimension ${JSON.stringify(dim)} is not a non-negative integer`);
    n *= dim;
    if (!Number.isSafeInteger(n)) return new Error(`shape [${shape}] has more elements than fit in a number`);
  }
  const bits = n * d[1];
  if (!Number.isSafeInteger(bits)) return new Error(`shape [${shape}] is too large`);
  return Math.ceil(bits / 8);
}

// ---- metadata -------------------------------------------------------------

/**
 * Reads the "mlc" metadata of a WebAssembly.Module, or of module bytes
 * (walking the binary's sections: bytes are never compiled here, so this is
 * safe on a browser's main thread for any size).
 */
export function readMetadata(module) {
  let raw;
  if (module instanceof WebAssembly.Module) {
    const sections = WebAssembly.Module.customSections(module, "mlc");
    raw = sections.length ? new Uint8Array(sections[0]) : null;
  } else {
    raw = customSection(toBytes(module), "mlc");
  }
  if (!raw) throw new Error('not an mlc module: it has no "mlc" custom section');
  let meta;
  try {
    meta = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (e) {
    throw new Error(`mlc metadata is not UTF-8 JSON: ${e.message}`);
  }
  if (meta === null || typeof meta !== "object") throw new Error("mlc metadata is not a JSON object");
  const unknown = unknownABI(meta.abi);
  if (unknown) throw new Error(`mlc module ${unknown}`);
  return meta;
}

// unknownABI says why a module's ABI version is not one this runtime
// speaks, or returns null when it is.
function unknownABI(abi) {
  if (abi === ABI_VERSION || threadedABI(abi)) return null;
  return `ABI ${abi}, this runtime speaks ABI ${ABI_VERSION}, ${ABI_THREADS} and ${ABI_TIMED_THREADS}`;
}

// customSection finds a custom section by name in module bytes; null if none.
function customSection(b, name) {
  const want = new TextEncoder().encode(name);
  for (const section of sections(b)) {
    if (section.id !== 0) continue;
    const { name: got, payload } = customName(b, section);
    if (got.length === want.length && want.every((c, i) => got[i] === c)) return b.subarray(payload, section.end);
  }
  return null;
}

/**
 * Checks that metadata describes tensors a host can trust: known dtypes,
 * integer shapes, bytes = product(shape) x itemsize without overflow, unique
 * names, and (given the memory's size) every tensor inside memory. A module
 * whose metadata lies is refused rather than read or written out of place.
 */
export function checkMetadata(meta, memoryBytes) {
  const fail = (msg) => {
    throw new Error(`mlc metadata refused: ${msg}`);
  };
  if (meta === null || typeof meta !== "object") fail("not an object");
  const unknown = unknownABI(meta.abi);
  if (unknown) fail(unknown);
  if (threadedABI(meta.abi) && !(Number.isSafeInteger(meta.threads) && meta.threads >= 2)) fail(`threads is ${JSON.stringify(meta.threads)} in an ABI ${meta.abi} module`);
  for (const kind of ["inputs", "outputs"]) {
    const list = meta[kind];
    if (!Array.isArray(list)) fail(`${kind} is not an array`);
    const seen = new Set();
    for (const t of list) {
      if (t === null || typeof t !== "object") fail(`an entry of ${kind} is not an object`);
      const what = `${kind.slice(0, -1)} ${JSON.stringify(t.name)}`;
      if (typeof t.name !== "string" || t.name === "") fail(`an entry of ${kind} has no name`);
      if (seen.has(t.name)) fail(`${what} appears twice`);
      seen.add(t.name);
      const bytes = tensorBytes(t.dtype, t.shape);
      if (bytes instanceof Error) fail(`${what}: ${bytes.message}`);
      if (t.bytes !== bytes) fail(`${what} says ${JSON.stringify(t.bytes)} bytes, but ${t.dtype}[${t.shape}] is ${bytes}`);
      if (!Number.isSafeInteger(t.offset) || t.offset < 0) fail(`${what} has offset ${JSON.stringify(t.offset)}`);
      if (memoryBytes !== undefined && t.offset + t.bytes > memoryBytes) {
        fail(`${what} lies outside memory (bytes ${t.offset}..${t.offset + t.bytes} of ${memoryBytes})`);
      }
    }
  }
  if (!Number.isSafeInteger(meta.memory_bytes) || meta.memory_bytes < 0) fail(`memory_bytes is ${JSON.stringify(meta.memory_bytes)}`);
  if (memoryBytes !== undefined && meta.memory_bytes > memoryBytes) fail(`memory_bytes ${meta.memory_bytes} exceeds the memory (${memoryBytes} bytes)`);
  // fixed_inputs only informs (mlc_run itself checks the values), so it is not held to the inputs' names.
  if (meta.fixed_inputs !== undefined && !(Array.isArray(meta.fixed_inputs) && meta.fixed_inputs.every((n) => typeof n === "string"))) {
    fail("fixed_inputs is not a list of names");
  }
  if (meta.run_errors !== undefined && (meta.run_errors === null || typeof meta.run_errors !== "object")) fail("run_errors is not an object");
  return meta;
}

// ---- sources: bytes, modules, responses, URLs -----------------------------

const isNode = typeof process !== "undefined" && process.versions != null && process.versions.node != null;

// Node built-ins are imported through a variable so that bundlers for the
// browser do not try to resolve them.
const nodeImport = (name) => import(/* @vite-ignore */ /* webpackIgnore: true */ name);

function toBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && b instanceof SharedArrayBuffer)) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new TypeError(
    "expected an mlc module: bytes (ArrayBuffer, typed array), a WebAssembly.Module, a Response or a Promise of one, or a URL",
  );
}

function isResponse(x) {
  // Bytes first, without naming Response: in Node the first touch of the
  // global Response loads the whole fetch implementation (about 50 ms, ten
  // times a small model's cold start).
  if (x === null || typeof x !== "object" || x instanceof ArrayBuffer || ArrayBuffer.isView(x)) return false;
  if (typeof Response !== "undefined" && x instanceof Response) return true;
  return x !== null && typeof x === "object" && typeof x.arrayBuffer === "function" && typeof x.ok === "boolean" && x.headers != null;
}

async function compileResponse(res) {
  if (!res.ok) throw new Error(`fetching ${res.url || "the module"}: HTTP ${res.status} ${res.statusText || ""}`.trim());
  const type = (res.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  try {
    // Streaming compilation needs the wasm MIME type; anything else is read whole first.
    if (type === "application/wasm" && typeof WebAssembly.compileStreaming === "function") {
      return await WebAssembly.compileStreaming(res);
    }
    return await WebAssembly.compile(await res.arrayBuffer());
  } catch (e) {
    // Often a server's HTML page (a 404 page served as 200, a login page) in place of the module.
    if (e instanceof WebAssembly.CompileError) e.message = `${res.url || "the response"} (${type || "no content-type"}) is not a WebAssembly module: ${e.message}`;
    throw e;
  }
}

async function compileURL(url) {
  let u = url;
  if (typeof url === "string") {
    const base = typeof location !== "undefined" ? location.href : undefined;
    const hasScheme = /^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[a-z]:[\\/]/i.test(url); // C:\ is a path
    if (isNode && !hasScheme) {
      const fs = await nodeImport("node:fs/promises");
      return WebAssembly.compile(await fs.readFile(url));
    }
    u = new URL(url, base);
  }
  if (u.protocol === "file:" && isNode) {
    const fs = await nodeImport("node:fs/promises");
    return WebAssembly.compile(await fs.readFile(u));
  }
  return compileResponse(await fetch(u));
}

/**
 * Compiles an mlc module from any source without instantiating it: bytes, a
 * WebAssembly.Module (returned as is), a Response or a Promise of one, or a
 * URL (string or URL; a file path or file: URL in Node). Responses served as
 * application/wasm compile while they download. The result can be given to
 * load() and loadWorker() any number of times: one compilation, many instances.
 */
export async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source !== null && typeof source === "object" && typeof source.then === "function") source = await source;
  if (source instanceof WebAssembly.Module) return source;
  if (isResponse(source)) return compileResponse(source);
  if (typeof source === "string" || source instanceof URL) return compileURL(source);
  return WebAssembly.compile(toBytes(source));
}

// ---- the model on this thread ---------------------------------------------

// The WASI imports are only used by _start; mlc_run never calls them.
function wasiStubs() {
  const unused = () => {
    throw new Error("mlc: WASI called outside _start");
  };
  return { wasi_snapshot_preview1: { fd_read: unused, fd_write: unused, proc_exit: unused } };
}

/**
 * Instantiates a compiled mlc module (without running _start). A threaded
 * module (ABI 2 or 3) gets options.memory, or a new memory (shared unless
 * options.shared is false, for a module unsharedCopy() made); no helper
 * threads are started here (load() does that).
 */
export async function instantiate(module, meta = readMetadata(module), options = {}) {
  const imports = wasiStubs();
  if (threadedABI(meta.abi)) {
    const memory = options.memory || threadMemory(meta, options.shared !== false);
    imports.env = { memory };
    imports.wasi_snapshot_preview1.clock_time_get = monotonicClock(memory);
  } else if (options.memory) {
    imports.env = { memory: options.memory }; // a module sharedMemoryCopy() made
  }
  const instance = await WebAssembly.instantiate(module, imports);
  return new Model(instance, meta);
}

/**
 * Loads an mlc module from any source compile() takes and instantiates it:
 * run() then runs synchronously on this thread. Reading the metadata never
 * compiles synchronously, so a module of any size loads on a page's main thread.
 *
 * From bytes (given, read from a file or fetched) it hands the engine the
 * module without its weights (the payloads of its passive data segments,
 * placed by the "mlc.data" section) and copies them into memory itself:
 * the engine keeps the bytes it compiled for the module's lifetime, so the
 * weights are then resident once, in memory, once the bytes are let go. A
 * WebAssembly.Module (from compile(), for several instances) keeps them, and
 * each instance copies them in at its first run.
 *
 * A threaded module (mlc compile --threads N) also gets helper threads:
 * options.threads in all (default: as many as the machine has, at most N),
 * this one included. Where that cannot be, it runs on one thread and says
 * why in model.warnings: on a page's main thread (which may not wait; use
 * loadWorker), and without shared memory (a page that is not cross-origin
 * isolated; then the module's bytes or URL are needed, not a
 * WebAssembly.Module). options.workerURL is where worker.mjs is served.
 * Helper threads get the module without its weights: they never run
 * mlc_init, only the instance that runs the model does.
 *
 * Where shared memory exists (Node; a cross-origin-isolated page) and the
 * weights are split off (bytes, a Response, a URL or a path; not a
 * WebAssembly.Module), the memory is shared and one more helper thread
 * touches its pages (one atomic no-op per 4 KiB) while this one compiles,
 * instantiates and copies the weights in, so that placing the weights and
 * the first run fault fewer of them here (a single-threaded module gets a
 * copy of its code importing that memory; its outputs are the same bits).
 * options.prefault: false turns this off.
 */
export async function load(source, options = {}) {
  if (source !== null && typeof source === "object" && typeof source.then === "function") source = await source;
  const bytes = await openBytes(source);
  try {
    return await loadFrom(source, bytes, options);
  } finally {
    if (bytes) await bytes.close();
  }
}

// loadFrom is load() once the source's bytes are open (null for a
// WebAssembly.Module).
async function loadFrom(source, bytes, options) {
  const data = bytes && splitData(bytes);
  const whole = bytes && !data ? await bytes.whole() : null;
  const early = data && options.prefault !== false ? prefaulted(data, options.workerURL) : null;
  const module = data ? await WebAssembly.compile(early ? early.module : data.module) : await compile(whole || source);
  const meta = checkMetadata(readMetadata(module));
  if (!threadedABI(meta.abi)) {
    const model = await instantiate(module, meta, early ? { memory: early.memory } : {});
    if (early) model._prefault = early.done;
    return placed(model, data);
  }
  const why = sharedMemoryUnavailable();
  if (why) {
    if (!bytes) await sourceBytes(source, why); // throws: a WebAssembly.Module cannot be rebuilt
    const model = await instantiate(await WebAssembly.compile(unsharedCopy(data ? data.module : whole)), meta, { shared: false });
    model.warnings.push(`running on one thread: ${why}`);
    return placed(model, data);
  }
  const memory = early ? early.memory : threadMemory(meta);
  const model = await placed(await instantiate(module, meta, { memory }), data);
  if (early) model._prefault = early.done;
  let threads = await threadCount(meta, options.threads);
  if (threads > 1 && !canBlock()) {
    model.warnings.push(
      `running on one thread: a page's main thread may not wait for helper threads (loadWorker() runs the model in a Worker on ${threads} threads)`,
    );
    threads = 1;
  }
  if (threads > 1) model._helpers = await startHelpers(module, memory, threads - 1, options.workerURL);
  model.threads = threads;
  return model;
}

// prefaultable says, for a module whose weights are split off, how it
// loads with a helper thread touching its memory's pages (startPrefault):
// the module bytes to compile (a single-threaded module: a copy whose
// memory is imported, shared, sharedMemoryCopy; a threaded one imports it
// anyway) and a function making its memory. null where there is no shared
// memory, or for a module this cannot rewrite: it then loads as without
// (options.prefault: false).
function prefaultable(data) {
  if (sharedMemoryUnavailable()) return null;
  const meta = checkMetadata(readMetadata(data.module));
  if (threadedABI(meta.abi)) return { meta, module: data.module, memory: () => threadMemory(meta) };
  const copy = sharedMemoryCopy(data.module);
  if (!copy) return null;
  return { meta, module: copy.bytes, memory: () => new WebAssembly.Memory({ initial: copy.initial, maximum: copy.maximum, shared: true }) };
}

// prefault starts a helper thread touching the pages of memory that placing
// data's weights and the first run write; a promise of its report.
function prefault(memory, meta, data, workerURL) {
  return startPrefault(memory, prefaultRanges(meta, data.segments, memory.buffer.byteLength), workerURL);
}

// prefaulted starts, before the module is compiled, its memory and the
// helper touching it (load()).
function prefaulted(data, workerURL) {
  const how = prefaultable(data);
  if (!how) return null;
  const memory = how.memory();
  return { module: how.module, memory, done: prefault(memory, how.meta, data, workerURL) };
}

// placeData copies the weights split off a module into its memory (from
// the bytes, or read from the file straight into memory) and sets the flag
// that makes mlc_run skip memory.init.
async function placeData(memory, data) {
  const buf = memory.buffer;
  for (const s of data.segments) {
    if (s.offset + s.bytes > buf.byteLength) throw new RangeError(`mlc.data places ${s.bytes} bytes at ${s.offset}, outside memory (${buf.byteLength} bytes)`);
    await data.source.place(s.at, new Uint8Array(buf, s.offset, s.bytes));
  }
  new DataView(buf).setInt32(data.flag, 1, true);
}

// placed is the model once the weights split off its module (if any) are in its memory.
async function placed(model, data) {
  if (data) await placeData(model.instance.exports.memory, data);
  return model;
}

// weightsFor says how a worker gets the weights split off a module into
// the memory it creates: a file's path and where the weights are in it (it
// reads them itself, straight into memory), or the weights read into one
// buffer, moved to it (transfer: its buffer).
async function weightsFor(data) {
  if (data.source.path !== undefined) return { flag: data.flag, segments: data.segments, path: data.source.path, size: data.source.size };
  const blob = new Uint8Array(data.segments.reduce((n, s) => n + s.bytes, 0));
  const segments = [];
  let at = 0;
  for (const s of data.segments) {
    await data.source.place(s.at, blob.subarray(at, at + s.bytes));
    segments.push({ offset: s.offset, at, bytes: s.bytes });
    at += s.bytes;
  }
  return { flag: data.flag, segments, blob, transfer: [blob.buffer] };
}

// placeWeights is the worker's side of weightsFor.
async function placeWeights(memory, weights) {
  const source = weights.blob ? bytesOf(weights.blob) : await fileBytes(weights.path.startsWith("file:") ? new URL(weights.path) : weights.path);
  try {
    if (weights.path !== undefined && source.size !== weights.size) throw new Error(`${weights.path} changed while it was read`);
    await placeData(memory, { ...weights, source });
  } finally {
    await source.close();
  }
}

/** @internal The weights' split for loadWorker (pool.mjs, worker.mjs); not part of the API. */
export const _weights = { openBytes, splitData, placeData, weightsFor, placeWeights, prefaultable, prefault };

// A module's bytes as load() reads them: read(pos, n) returns the n bytes
// at pos (fewer past the end), place(pos, dest) fills dest with the bytes
// at pos, whole() returns them all. Bytes in memory are only viewed; a file
// in Node is read piece by piece, the weights straight into the model's
// memory, so that no copy of them outlives load() even as free memory in
// malloc's heap (glibc keeps freed buffers of up to 32 MB resident).
function bytesOf(b) {
  return {
    size: b.length,
    read: (pos, n) => b.subarray(pos, pos + n),
    place: async (pos, dest) => dest.set(b.subarray(pos, pos + dest.length)),
    whole: async () => b,
    close: async () => {},
  };
}

async function fileBytes(path) {
  const fs = await nodeImport("node:fs");
  const handle = await fs.promises.open(path);
  const { size } = await handle.stat();
  const truncated = () => new Error(`${path} changed while it was read`);
  return {
    path: path instanceof URL ? path.href : path, // for a worker: a URL cannot be posted
    size,
    read(pos, n) {
      const b = new Uint8Array(Math.max(0, Math.min(n, size - pos)));
      for (let got = 0; got < b.length; ) {
        const k = fs.readSync(handle.fd, b, got, b.length - got, pos + got);
        if (k === 0) throw truncated();
        got += k;
      }
      return b;
    },
    async place(pos, dest) {
      for (let got = 0; got < dest.length; ) {
        const { bytesRead } = await handle.read(dest, got, dest.length - got, pos + got);
        if (bytesRead === 0) throw truncated();
        got += bytesRead;
      }
    },
    whole: async () => new Uint8Array(await handle.readFile()),
    close: () => handle.close(),
  };
}

// openBytes opens a source's bytes: given, a file path or file: URL in
// Node, a Response (or URL fetched) checked as compileResponse does; null
// for a WebAssembly.Module.
async function openBytes(source) {
  if (typeof source === "string" || source instanceof URL) {
    const hasScheme = typeof source === "string" && /^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source);
    if (isNode && (typeof source === "string" ? !hasScheme || source.startsWith("file:") : source.protocol === "file:")) {
      return fileBytes(typeof source === "string" && source.startsWith("file:") ? new URL(source) : source);
    }
  }
  const b = await readBytes(source);
  return b && bytesOf(b);
}

// readBytes reads a source whole: bytes as they are, a Response (or URL
// fetched) checked as compileResponse does; null for a WebAssembly.Module.
// (Files in Node are openBytes'.)
async function readBytes(source) {
  if (source instanceof WebAssembly.Module) return null;
  if (isResponse(source)) {
    if (!source.ok) return null; // compileResponse reports it
    const bytes = new Uint8Array(await source.arrayBuffer());
    if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
      // As compileResponse says it: often an HTML page served in the module's place.
      const type = (source.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
      throw new WebAssembly.CompileError(`${source.url || "the response"} (${type || "no content-type"}) is not a WebAssembly module: it does not start with \\0asm`);
    }
    return bytes;
  }
  if (typeof source === "string" || source instanceof URL) {
    const base = typeof location !== "undefined" ? location.href : undefined;
    return readBytes(await fetch(new URL(source, base)));
  }
  return toBytes(source);
}

/**
 * Splits an mlc module whose constants are passive data segments (it has a
 * "mlc.data" section) into the module with those segments emptied and
 * where the segments' bytes are and go; null for other modules. The
 * module's bytes are read through source (bytesOf, fileBytes), the
 * segments' bytes not at all.
 */
function splitData(source) {
  const { read, size } = source;
  const text = (b) => new TextDecoder().decode(b);
  let layout = null;
  let data = null;
  for (const section of sectionsAt(read, size)) {
    if (section.id === 0) {
      // The name first: other custom sections are not read whole.
      const head = read(section.body, Math.min(section.end - section.body, 16));
      const r = new ByteReader(head);
      if (r.u32() === 8 && r.pos + 8 <= head.length && text(head.subarray(r.pos, r.pos + 8)) === "mlc.data") {
        const payload = section.body + r.pos + 8;
        layout = JSON.parse(text(read(payload, section.end - payload)));
      }
    } else if (section.id === 11) {
      data = section;
    }
  }
  if (!layout || !data) return null;
  // Re-encode the data section: passive segments become empty, active
  // ones (kernel tables) stay as they are.
  const at = (pos) => new ByteReader(read(pos, Math.min(data.end - pos, 32))); // a segment's header
  let r = at(data.body);
  const count = r.u32();
  let pos = data.body + r.pos;
  const segments = [];
  const parts = [];
  for (let i = 0; i < count; i++) {
    r = at(pos);
    const kind = r.u32();
    if (kind === 1) {
      const bytes = r.u32();
      const place = layout.segments[segments.length];
      if (!place || place.bytes !== bytes) return null;
      if (bytes > data.end - pos - r.pos) throw new Error("truncated WebAssembly module");
      segments.push({ offset: place.offset, at: pos + r.pos, bytes });
      parts.push(Uint8Array.of(1, 0));
      pos += r.pos + bytes;
    } else if (kind === 0 && r.byte() === 0x41) {
      r.u32(); // the offset expression: i32.const n, end
      if (r.byte() !== 0x0b) return null;
      const bytes = r.u32();
      if (bytes > data.end - pos - r.pos) throw new Error("truncated WebAssembly module");
      parts.push(read(pos, r.pos + bytes));
      pos += r.pos + bytes;
    } else {
      return null; // not a layout mlc writes
    }
  }
  const module = concatBytes([read(0, data.start), ...sectionPieces(11, [uleb(count), ...parts]), read(data.end, size - data.end)]);
  return { module, segments, flag: layout.flag, source };
}

function sameShape(a, b) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// feedBytes turns one feed into the bytes of input t, checking its type and size.
export function feedBytes(t, data) {
  const name = t.name;
  const Arr = arrayTypeOf(t.dtype);
  let arr = data;
  if (data !== null && typeof data === "object" && !ArrayBuffer.isView(data) && !Array.isArray(data) && data.data !== undefined) {
    const dtype = data.dtype !== undefined ? data.dtype : data.type; // {type, dims}: onnxruntime-web's tensors
    const shape = data.shape !== undefined ? data.shape : data.dims;
    if (dtype !== undefined && dtype !== t.dtype) throw new TypeError(`input "${name}" must be ${t.dtype}, got ${dtype}`);
    if (shape !== undefined && !sameShape(Array.from(shape), t.shape)) throw new RangeError(`input "${name}" must have shape [${t.shape}], got [${Array.from(shape)}]`);
    arr = data.data;
  }
  if (Array.isArray(arr)) arr = Arr.from(arr);
  if (!ArrayBuffer.isView(arr)) throw new TypeError(`input "${name}" must be a ${Arr.name} (${t.dtype}[${t.shape}])`);
  // A Uint8Array is also accepted as the raw little-endian bytes of any dtype.
  if (!(arr instanceof Arr) && !(arr instanceof Uint8Array)) throw new TypeError(`input "${name}" must be a ${Arr.name} (${t.dtype}), got ${arr.constructor.name}`);
  if (arr.byteLength !== t.bytes) {
    const why = arr.byteLength === 0 && isDetached(arr.buffer) ? " (its buffer was transferred to a worker: pass {transfer: false} to run() to keep inputs)" : "";
    throw new RangeError(`input "${name}" must be ${t.bytes} bytes (${t.dtype}[${t.shape}]), got ${arr.byteLength}${why}`);
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

function isDetached(buf) {
  if (typeof buf.detached === "boolean") return buf.detached;
  try {
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

// tensorOf wraps an output's bytes (a fresh buffer of exactly t.bytes) as a tensor.
export function tensorOf(t, buffer) {
  const Arr = arrayTypeOf(t.dtype);
  const data = Arr === Uint8Array ? new Uint8Array(buffer) : new Arr(buffer, 0, t.bytes / Arr.BYTES_PER_ELEMENT);
  return { dtype: t.dtype, shape: t.shape.slice(), data };
}

export function checkFeeds(inputs, feeds) {
  if (feeds === null || typeof feeds !== "object") throw new TypeError("run() takes an object of inputs by name");
  for (const name of Object.keys(feeds)) {
    if (!inputs.some((i) => i.name === name)) throw new Error(`model has no input "${name}" (inputs: ${inputs.map((i) => i.name).join(", ")})`);
  }
  for (const t of inputs) {
    if (!(t.name in feeds)) throw new Error(`missing input "${t.name}" (${t.dtype}[${t.shape}])`);
  }
}

export class Model {
  /** Wraps an instance of an mlc module; the metadata is checked against its memory. */
  constructor(instance, meta) {
    const { memory, mlc_run } = instance.exports;
    if (!(memory instanceof WebAssembly.Memory) || typeof mlc_run !== "function") {
      throw new Error("not an mlc module: it does not export memory and mlc_run");
    }
    checkMetadata(meta, memory.buffer.byteLength);
    this.instance = instance;
    this.meta = meta;
    this.inputs = meta.inputs;
    this.outputs = meta.outputs;
    /** Threads running the model (a threaded module's helpers and this one). */
    this.threads = 1;
    /** Why the model runs on fewer threads than it could (strings), e.g. no cross-origin isolation. */
    this.warnings = [];
    this._memory = memory;
    this._run = mlc_run;
    this._helpers = null;
    this._prefault = null; // the helper touching pages (load()): a promise of its report
  }

  /** Stops a threaded model's helper threads; the model still runs afterwards, on this thread. */
  async close() {
    const helpers = this._helpers;
    if (!helpers) return;
    this._helpers = null;
    this.threads = 1;
    this.instance.exports.mlc_stop();
    await helpers.stop();
  }

  _tensor(list, name, kind) {
    const t = list.find((i) => i.name === name);
    if (!t) throw new Error(`model has no ${kind} "${name}" (${kind}s: ${list.map((i) => i.name).join(", ")})`);
    return t;
  }

  /** Writes one input: a typed array of the input's dtype (or its raw bytes as a Uint8Array, or an array of numbers) with exactly the input's size. */
  setInput(name, data) {
    const t = this._tensor(this.inputs, name, "input");
    new Uint8Array(this._memory.buffer, t.offset, t.bytes).set(feedBytes(t, data));
  }

  /** Runs the model on the inputs already written. */
  invoke() {
    const code = this._run();
    if (code !== 0) {
      const msg = (this.meta.run_errors || {})[String(code)] || "unknown error";
      throw new Error(`mlc_run returned ${code}: ${msg}`);
    }
  }

  /** Copies one output out of memory: {dtype, shape, data}. */
  getOutput(name) {
    const t = this._tensor(this.outputs, name, "output");
    // A plain ArrayBuffer even when memory is shared (a threaded module's).
    return tensorOf(t, new Uint8Array(this._memory.buffer, t.offset, t.bytes).slice().buffer);
  }

  /** Writes all inputs, runs, and returns every output by name (synchronously, on this thread). */
  run(feeds) {
    checkFeeds(this.inputs, feeds);
    for (const t of this.inputs) this.setInput(t.name, feeds[t.name]);
    this.invoke();
    const out = {};
    for (const t of this.outputs) out[t.name] = this.getOutput(t.name);
    return out;
  }
}

// ---- relaxed SIMD: choosing a build ------------------------------------------

// The smallest module using f32x4.relaxed_madd: (func (result v128) (f32x4.relaxed_madd (v128.const 0) x3)).
const v128Zero = [253, 12, ...new Array(16).fill(0)];
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0, ...v128Zero, ...v128Zero, ...v128Zero, 253, 133, 2, 11,
]);

/** Whether this engine runs relaxed SIMD (modules from mlc compile --relaxed-simd): Chromium 114+, Node with --experimental-wasm-relaxed-simd. */
export function relaxedSIMDSupported() {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * Picks between two builds of one model by feature detection: `relaxed`
 * (mlc compile --relaxed-simd) where the engine runs relaxed SIMD, else
 * `plain`. Either is any source load() takes; the result is one of them.
 */
export function chooseBuild({ relaxed, plain }) {
  return relaxed !== undefined && relaxedSIMDSupported() ? relaxed : plain;
}

// ---- the model off the main thread ----------------------------------------

export { loadWorker, WorkerModel } from "./pool.mjs";
