// The runtime's tests, written once for every host: node.test.mjs runs them
// under `node --test`, and the browser test runs them in a page (Chromium,
// Firefox). Each case gets an env:
//   env.bytes   the fixture module's bytes (tiny_cnn: image float32[1,1,8,8] -> probs float32[1,10])
//   env.url     where the fixture can be loaded from (http: in a page, file: in Node)
//   env.response(type)  a fresh Response of the fixture with that content-type
//   env.workerURL       (optional) where worker.mjs is, for loadWorker
//   env.threaded        the fixture compiled with --threads 2, every splittable loop split
// and throws on failure. Nothing here uses a host-only API.

import { ABI_VERSION, ABI_TIMED_THREADS, load, loadWorker, compile, instantiate, readMetadata, checkMetadata, arrayTypeOf, tensorBytes, Model, relaxedSIMDSupported, chooseBuild } from "../mlc.mjs";
import { unsharedCopy, sharedMemoryUnavailable, sharedMemoryCopy, startPrefault, prefaultRanges, hardwareThreads } from "../threads.mjs";
import { sections, customName, uleb, concatBytes } from "../wasm-bytes.mjs";
import * as ort from "../ort.mjs";

// ---- a small assert, the same everywhere ----------------------------------

class AssertionError extends Error {}

function fail(msg) {
  throw new AssertionError(msg);
}

function show(v) {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}[${Array.from(v).slice(0, 8).join(", ")}${v.length > 8 ? ", ..." : ""}]`;
  try {
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
  } catch {
    return String(v);
  }
}

export const assert = {
  ok(v, msg) {
    if (!v) fail(msg || `expected a truthy value, got ${show(v)}`);
  },
  equal(a, b, msg) {
    if (!Object.is(a, b)) fail(msg || `${show(a)} !== ${show(b)}`);
  },
  deepEqual(a, b, msg) {
    if (show(a) !== show(b) || (ArrayBuffer.isView(a) && a.constructor !== b.constructor)) fail(msg || `${show(a)} is not ${show(b)}`);
  },
  sameArray(a, b, msg) {
    if (a.constructor !== b.constructor || a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) fail(msg || `${show(a)} differs from ${show(b)}`);
  },
  throws(fn, re, msg) {
    try {
      fn();
    } catch (e) {
      if (re && !re.test(e.message)) fail(`${msg || "error"}: ${JSON.stringify(e.message)} does not match ${re}`);
      return e;
    }
    fail(msg || `expected an error matching ${re}`);
  },
  async rejects(p, re, msg) {
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      if (re && !re.test(e.message)) fail(`${msg || "rejection"}: ${JSON.stringify(e.message)} does not match ${re}`);
      return e;
    }
    fail(msg || `expected a rejection matching ${re}`);
  },
};

// ---- helpers ---------------------------------------------------------------

const image = () => new Float32Array(64).map((_, i) => (i % 7) / 7);

/** Whether module bytes have a custom section of this name. */
function hasSection(bytes, name) {
  for (const section of sections(bytes)) {
    if (section.id === 0 && new TextDecoder().decode(customName(bytes, section).name) === name) return true;
  }
  return false;
}

/** Whether a buffer is a SharedArrayBuffer (a global only where shared memory exists). */
const isShared = (buf) => typeof SharedArrayBuffer !== "undefined" && buf instanceof SharedArrayBuffer;

/** Awaits p while a timer keeps the host alive (a helper thread does not keep Node's process alive). */
async function whileAlive(p) {
  const timer = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** The module with its "mlc" custom section replaced by meta (an object, or raw JSON text): a module that lies. */
export function withMetadata(bytes, meta) {
  const b = new Uint8Array(bytes);
  const parts = [b.subarray(0, 8)];
  for (const section of sections(b)) {
    if (section.id === 0 && new TextDecoder().decode(customName(b, section).name) === "mlc") {
      const name = new TextEncoder().encode("mlc");
      const body = new TextEncoder().encode(typeof meta === "string" ? meta : JSON.stringify(meta));
      const payload = [...uleb(name.length), ...name, ...body];
      parts.push(new Uint8Array([0, ...uleb(payload.length), ...payload]));
    } else {
      parts.push(b.subarray(section.start, section.end));
    }
  }
  return concatBytes(parts);
}

// Counts the compilations that happen while fn runs.
async function countCompiles(fn) {
  const orig = { compile: WebAssembly.compile, compileStreaming: WebAssembly.compileStreaming, Module: WebAssembly.Module };
  let n = 0;
  WebAssembly.compile = function (...a) {
    n++;
    return orig.compile.apply(this, a);
  };
  WebAssembly.compileStreaming = function (...a) {
    n++;
    return orig.compileStreaming.apply(this, a);
  };
  try {
    await fn();
  } finally {
    WebAssembly.compile = orig.compile;
    WebAssembly.compileStreaming = orig.compileStreaming;
  }
  return n;
}

function softmaxOK(probs) {
  assert.ok(probs.data instanceof Float32Array, "probs is a Float32Array");
  assert.deepEqual(probs.shape, [1, 10]);
  const sum = probs.data.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5, `softmax sums to ${sum}`);
}

// ---- the cases ---------------------------------------------------------------

export function cases(env) {
  const t = [];
  const test = (name, fn) => t.push({ name, fn });
  const wopts = (o = {}) => (env.workerURL ? { ...o, workerURL: env.workerURL } : o);

  test("a threaded module gives the single-threaded module's exact outputs, on helper threads, in a worker and unshared", async () => {
    const meta = readMetadata(env.threaded);
    assert.equal(meta.abi, ABI_TIMED_THREADS);
    assert.equal(meta.threads, 2);
    const want = (await load(env.bytes)).run({ image: image() }).probs.data;
    const m = await load(env.threaded, wopts({ threads: 2 }));
    try {
      const why = sharedMemoryUnavailable();
      const onPageMain = typeof window !== "undefined" && typeof WorkerGlobalScope === "undefined";
      assert.equal(m.threads, why || onPageMain ? 1 : 2, `threads (warnings: ${m.warnings})`);
      assert.equal(m.warnings.length > 0, m.threads === 1, `warnings: ${m.warnings}`);
      for (let i = 0; i < 3; i++) assert.sameArray(m.run({ image: image() }).probs.data, want, `run ${i} on ${m.threads} threads`);
    } finally {
      await m.close();
    }
    assert.equal(m.threads, 1);
    assert.sameArray(m.run({ image: image() }).probs.data, want, "after close(), on this thread");
    const one = await instantiate(await compile(unsharedCopy(env.threaded)), meta, { shared: false });
    assert.sameArray(one.run({ image: image() }).probs.data, want, "unshared copy");
    const w = await loadWorker(env.threaded, wopts({ threads: 2 }));
    try {
      assert.equal(w.threads, sharedMemoryUnavailable() ? 1 : 2);
      assert.sameArray((await w.run({ image: image() })).probs.data, want, "in a worker");
    } finally {
      await w.terminate();
    }
    assert.throws(() => unsharedCopy(env.bytes), /no shared memory import/);
  });

  test("a helper thread touching the pages first changes no byte: memory and outputs equal a load without it", async () => {
    const split = hasSection(env.bytes, "mlc.data");
    const a = await load(env.bytes);
    const b = await load(env.bytes, { prefault: false });
    assert.equal(b._prefault, null, "prefault: false started a helper");
    assert.ok(!isShared(b.instance.exports.memory.buffer), "prefault: false, memory shared");
    const why = sharedMemoryUnavailable();
    if (why || !split) {
      assert.equal(a._prefault, null, `a helper without ${why ? "shared memory" : "split weights"}`);
    } else {
      assert.ok(isShared(a.instance.exports.memory.buffer), "memory not shared");
      const report = await whileAlive(a._prefault);
      if ((await hardwareThreads()) >= 2) assert.ok(report && report.error === undefined, `helper: ${show(report)}`);
      else assert.equal(report, null, "a helper on one core");
    }
    const memory = (m) => new Uint8Array(m.instance.exports.memory.buffer);
    assert.sameArray(memory(a), memory(b), "memory after load");
    assert.sameArray(a.run({ image: image() }).probs.data, b.run({ image: image() }).probs.data, "outputs");
    assert.sameArray(memory(a), memory(b), "memory after a run");
    const wa = await loadWorker(env.bytes, wopts());
    const wb = await loadWorker(env.bytes, wopts({ prefault: false }));
    try {
      assert.sameArray((await wa.run({ image: image() })).probs.data, (await wb.run({ image: image() })).probs.data, "outputs in a worker");
    } finally {
      await Promise.all([wa.terminate(), wb.terminate()]);
    }
    const copy = sharedMemoryCopy(env.bytes);
    assert.ok(copy && WebAssembly.validate(copy.bytes), "the shared-memory copy is not a valid module");
    assert.equal(sharedMemoryCopy(env.threaded), null, "a module that imports its memory was rewritten");
  });

  test("a helper touching pages never loses a store racing it", async () => {
    if (sharedMemoryUnavailable() || (await hardwareThreads()) < 2) return; // no helper starts
    const pages = 256; // 16 MiB
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const bytes = pages * 65536;
    // The whole memory, many times over: most touches land on pages present, racing this thread's stores.
    const ranges = Array.from({ length: 64 }, (_, i) => [0, bytes, i % 2 === 0]);
    let report;
    const done = startPrefault(memory, ranges, env.workerURL).then((r) => (report = r === null ? { ms: 0, error: "did not start" } : r));
    const words = new Int32Array(memory.buffer);
    const pattern = new Int32Array(bytes / 4);
    let rounds = 0;
    let bad = 0;
    await whileAlive(
      (async () => {
        for (let k = 1; report === undefined || rounds < 2; k++) {
          pattern.fill(k);
          words.set(pattern); // every word, the touched ones among them
          for (let i = 0; i < words.length; i += 1024) if (words[i] !== k) bad++;
          rounds++;
          await new Promise((r) => setTimeout(r, 0));
        }
      })(),
    );
    await whileAlive(done);
    assert.equal(report.error, undefined, `helper: ${show(report)}`);
    assert.equal(bad, 0, `${bad} stores lost to the helper in ${rounds} rounds`);
    assert.deepEqual(
      prefaultRanges({ memory_bytes: 9000 }, [{ offset: 1024, bytes: 4000 }, { offset: 5024, bytes: 100 }], 65536),
      [[5024, 5124, true], [1024, 5024, true], [5124, 9000, false]],
    );
  });

  test("relaxed SIMD is detected by validating a probe", () => {
    assert.equal(typeof relaxedSIMDSupported(), "boolean");
    assert.equal(chooseBuild({ relaxed: "r", plain: "p" }), relaxedSIMDSupported() ? "r" : "p");
    assert.equal(chooseBuild({ plain: "p" }), "p");
  });

  test("metadata is read from bytes without compiling, and from a Module", async () => {
    let meta;
    const n = await countCompiles(() => {
      meta = readMetadata(env.bytes);
    });
    assert.equal(n, 0, "readMetadata(bytes) compiled the module");
    assert.equal(meta.abi, ABI_VERSION);
    assert.equal(meta.inputs[0].name, "image");
    assert.deepEqual(meta.inputs[0].shape, [1, 1, 8, 8]);
    assert.equal(meta.outputs[0].dtype, "float32");
    const mod = await compile(env.bytes);
    assert.deepEqual(readMetadata(mod), meta);
    assert.throws(() => readMetadata(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), /no "mlc" custom section/);
    assert.throws(() => readMetadata(new Uint8Array([1, 2, 3])), /not a WebAssembly module/);
  });

  test("run returns typed outputs and is repeatable", async () => {
    const model = await load(env.bytes);
    const a = model.run({ image: image() });
    const b = model.run({ image: image() });
    softmaxOK(a.probs);
    assert.sameArray(a.probs.data, b.probs.data);
  });

  test("load takes bytes, ArrayBuffer, Module, Response, Promise<Response>, URL and URL string", async () => {
    const want = (await load(env.bytes)).run({ image: image() }).probs.data;
    const sources = {
      Uint8Array: env.bytes,
      ArrayBuffer: env.bytes.buffer.slice(env.bytes.byteOffset, env.bytes.byteOffset + env.bytes.byteLength),
      DataView: new DataView(env.bytes.buffer, env.bytes.byteOffset, env.bytes.byteLength),
      Module: await compile(env.bytes),
      Response: env.response("application/wasm"),
      "Response (no wasm MIME type)": env.response("application/octet-stream"),
      "Promise<Response>": Promise.resolve(env.response("application/wasm")),
      URL: new URL(env.url),
      "URL string": String(env.url),
    };
    for (const [kind, src] of Object.entries(sources)) {
      const got = (await load(src)).run({ image: image() }).probs.data;
      assert.sameArray(got, want, `load(${kind})`);
    }
  });

  test("a failed fetch and a source that is no module are clear errors", async () => {
    const notFound = { ok: false, status: 404, statusText: "Not Found", url: "http://x/m.wasm", headers: new Map(), arrayBuffer: async () => new ArrayBuffer(0) };
    await assert.rejects(load(notFound), /HTTP 404/);
    await assert.rejects(load(42), /expected an mlc module/);
    await assert.rejects(load(new Response("<!doctype html><p>Not here</p>", { headers: { "content-type": "text/html" } })), /\(text\/html\) is not a WebAssembly module/);
    await assert.rejects(load(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), /no "mlc" custom section/);
  });

  test("a truncated module is a clear error wherever it is cut", async () => {
    const bytes = new Uint8Array(env.bytes);
    for (let cut = 0; cut < bytes.length; cut += 37) {
      await assert.rejects(load(bytes.slice(0, cut)), /not a WebAssembly module|truncated WebAssembly module|no "mlc" custom section/, `cut at ${cut}`);
    }
  });

  test("one compilation serves many instances, each with its own memory", async () => {
    let mod;
    const n = await countCompiles(async () => {
      mod = await compile(env.response("application/wasm"));
      const a = await load(mod);
      const b = await instantiate(mod);
      assert.ok(a.instance.exports.memory !== b.instance.exports.memory, "instances share a memory");
      a.setInput("image", new Float32Array(64).fill(1));
      b.setInput("image", image());
      a.invoke();
      assert.sameArray(a.getOutput("probs").data, a.run({ image: new Float32Array(64).fill(1) }).probs.data);
      const pool = await loadWorker(mod, wopts({ instances: 2 }));
      try {
        softmaxOK((await pool.run({ image: image() })).probs);
      } finally {
        await pool.terminate();
      }
    });
    assert.equal(n, 1, "compilations");
  });

  test("wrong inputs are errors, not wrong answers", async () => {
    const model = await load(env.bytes);
    assert.throws(() => model.run({ image: new Float32Array(63) }), /must be 256 bytes/);
    assert.throws(() => model.run({ image: new Float64Array(64) }), /must be a Float32Array/);
    assert.throws(() => model.run({}), /missing input "image"/);
    assert.throws(() => model.run({ image: new Float32Array(64), other: new Float32Array(1) }), /no input "other"/);
    assert.throws(() => model.setInput("image", { data: new Float32Array(64), shape: [1, 64] }), /must have shape/);
    assert.throws(() => model.setInput("image", { data: new Float32Array(64), dtype: "float64" }), /must be float32/);
    assert.throws(() => model.getOutput("nope"), /no output "nope"/);
    // A tensor-like feed, numbers, and raw bytes all give the same answer.
    const want = model.run({ image: image() }).probs.data;
    assert.sameArray(model.run({ image: { data: image(), dtype: "float32", shape: [1, 1, 8, 8] } }).probs.data, want);
    assert.sameArray(model.run({ image: Array.from(image()) }).probs.data, want);
    assert.sameArray(model.run({ image: new Uint8Array(image().buffer) }).probs.data, want);
  });

  test("dtypes map to typed arrays and byte sizes", () => {
    assert.equal(arrayTypeOf("int64"), BigInt64Array);
    assert.equal(arrayTypeOf("bool"), Uint8Array);
    assert.equal(arrayTypeOf("float16"), Uint16Array);
    assert.equal(arrayTypeOf("float8_e4m3fn"), Uint8Array);
    assert.equal(tensorBytes("float32", [1, 3, 224, 224]), 602112);
    assert.equal(tensorBytes("int4", [3, 3]), 5);
    assert.equal(tensorBytes("int64", []), 8);
    assert.ok(tensorBytes("float32", [2 ** 30, 2 ** 30, 2 ** 30]) instanceof Error);
    assert.ok(tensorBytes("string", [1]) instanceof Error);
    assert.ok(tensorBytes("toString", [1]) instanceof Error);
  });

  test("a module whose metadata lies is refused, on this thread and in a worker", async () => {
    const meta = readMetadata(env.bytes);
    const edit = (f) => {
      const m = JSON.parse(JSON.stringify(meta));
      f(m);
      return m;
    };
    const lies = {
      "input offset 2^40": [edit((m) => (m.inputs[0].offset = 2 ** 40)), /lies outside memory/],
      "output beyond memory": [edit((m) => (m.outputs[0].offset = 65536 - 8)), /lies outside memory/],
      "output shape [1,2^40] with bytes 40": [edit((m) => (m.outputs[0].shape = [1, 2 ** 40])), /says 40 bytes/],
      "bytes not product(shape) x itemsize": [edit((m) => (m.inputs[0].bytes = 255)), /says 255 bytes, but float32\[1,1,8,8\] is 256/],
      "overflowing shape": [edit((m) => (m.inputs[0].shape = [2 ** 30, 2 ** 30, 2 ** 30])), /more elements than fit/],
      "negative dimension": [edit((m) => (m.inputs[0].shape = [1, 1, -8, -8])), /not a non-negative integer/],
      "fractional dimension": [edit((m) => (m.inputs[0].shape = [1, 1, 8.5, 8])), /not a non-negative integer/],
      "fractional offset": [edit((m) => (m.inputs[0].offset += 0.5)), /offset/],
      "negative offset": [edit((m) => (m.inputs[0].offset = -4)), /offset/],
      "string offset": [edit((m) => (m.inputs[0].offset = "5328")), /offset/],
      "unknown dtype": [edit((m) => (m.inputs[0].dtype = "float128")), /unknown dtype/],
      "duplicate name": [edit((m) => m.inputs.push({ ...m.inputs[0] })), /appears twice/],
      "nameless tensor": [edit((m) => delete m.outputs[0].name), /has no name/],
      "memory_bytes past memory": [edit((m) => (m.memory_bytes = 2 ** 40)), /memory_bytes/],
      "fixed_inputs not names": [edit((m) => (m.fixed_inputs = [{ name: "image" }])), /fixed_inputs/],
      "inputs not a list": [edit((m) => (m.inputs = { image: m.inputs[0] })), /inputs is not an array/],
      "unknown ABI": [edit((m) => (m.abi = 9)), /ABI 9, this runtime speaks ABI 1, 2 and 3/],
    };
    for (const [what, [lie, re]] of Object.entries(lies)) {
      const bytes = withMetadata(env.bytes, lie);
      await assert.rejects(load(bytes), re, `load: ${what}`);
      await assert.rejects(loadWorker(bytes, wopts()), re, `loadWorker: ${what}`);
    }
    await assert.rejects(load(withMetadata(env.bytes, "{not json")), /not UTF-8 JSON/);
    await assert.rejects(load(withMetadata(env.bytes, { ...meta, abi: 2 })), /ABI 2/);
    // The check runs against the real memory whoever builds the Model.
    const inst = (await load(env.bytes)).instance;
    assert.throws(() => new Model(inst, lies["output beyond memory"][0]), /lies outside memory/);
    assert.throws(() => checkMetadata(lies["input offset 2^40"][0], 65536), /lies outside memory/);
  });

  test("a worker gives the main thread's answers; inputs are transferred", async () => {
    const main = await load(env.bytes);
    const want = main.run({ image: image() }).probs.data;
    const w = await loadWorker(env.url, wopts());
    try {
      assert.equal(w.instances, 1);
      assert.deepEqual(w.inputs, main.inputs);
      const x = image();
      const out = await w.run({ image: x });
      softmaxOK(out.probs);
      assert.sameArray(out.probs.data, want);
      assert.equal(x.length, 0, "the input was transferred (detached)");
      const y = image();
      assert.sameArray((await w.run({ image: y }, { transfer: false })).probs.data, want);
      assert.equal(y.length, 64, "transfer: false keeps the input");
      // A view on part of a buffer is copied, never transferred (that would detach its neighbours).
      const big = new Float32Array(128);
      big.set(image(), 32);
      assert.sameArray((await w.run({ image: big.subarray(32, 96) })).probs.data, want);
      assert.equal(big.length, 128);
      await assert.rejects(w.run({ image: new Float32Array(3) }), /must be 256 bytes/);
      await assert.rejects(w.run({ image: x }), /must be 256 bytes .*transferred to a worker/, "a detached input");
      assert.sameArray((await w.run({ image: image() })).probs.data, want, "the worker survives errors");
    } finally {
      await w.terminate();
    }
    await assert.rejects(w.run({ image: image() }), /terminated/);
  });

  test("a pool runs many requests on its instances and answers each", async () => {
    const main = await load(env.bytes);
    const inputs = Array.from({ length: 12 }, (_, k) => new Float32Array(64).map((_, i) => Math.sin(i * (k + 1))));
    const want = inputs.map((x) => main.run({ image: x }).probs.data);
    const pool = await loadWorker(env.bytes, wopts({ instances: 3 }));
    try {
      assert.equal(pool.instances, 3);
      const got = await Promise.all(inputs.map((x) => pool.run({ image: x.slice() })));
      got.forEach((o, k) => assert.sameArray(o.probs.data, want[k], `request ${k}`));
    } finally {
      await pool.terminate();
    }
    await assert.rejects(loadWorker(env.bytes, { instances: 0 }), /instances must be a positive integer/);
  });

  test("the onnxruntime-web adapter runs an ORT-web snippet", async () => {
    const main = await load(env.bytes);
    const want = main.run({ image: image() }).probs.data;
    for (const proxy of [false, true]) {
      ort.env.wasm.proxy = proxy;
      try {
        for (const src of [env.url, env.bytes, env.bytes.buffer.slice(env.bytes.byteOffset, env.bytes.byteOffset + env.bytes.byteLength)]) {
          const session = await ort.InferenceSession.create(typeof src === "string" ? src : src, {});
          assert.deepEqual(session.inputNames, ["image"]);
          assert.deepEqual(session.outputNames, ["probs"]);
          assert.deepEqual(session.inputMetadata[0], { name: "image", isTensor: true, type: "float32", shape: [1, 1, 8, 8] });
          const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", image(), [1, 1, 8, 8]) };
          const results = await session.run(feeds);
          const out = results[session.outputNames[0]];
          assert.ok(out instanceof ort.Tensor);
          assert.equal(out.type, "float32");
          assert.deepEqual(out.dims, [1, 10]);
          assert.equal(out.size, 10);
          assert.sameArray(out.data, want);
          assert.sameArray(await out.getData(), want);
          assert.deepEqual(Object.keys(await session.run(feeds, ["probs"])), ["probs"]);
          await assert.rejects(session.run(feeds, ["nope"]), /invalid output name/);
          await assert.rejects(session.run({ nope: feeds.image }), /not a valid input name/);
          await session.release();
        }
      } finally {
        ort.env.wasm.proxy = false;
      }
    }
    assert.equal(new ort.Tensor(new Int32Array(6), [2, 3]).type, "int32");
    assert.equal(new ort.Tensor([1, 2, 3]).type, "float32");
    assert.equal(new ort.Tensor("int64", [1n, 2n]).data.constructor, BigInt64Array);
    assert.equal(new ort.Tensor("bool", [true, false]).data[0], 1);
    assert.throws(() => new ort.Tensor("float32", new Float32Array(5), [2, 3]), /does not match data length/);
    assert.throws(() => new ort.Tensor("float32", new Int32Array(6), [2, 3]), /needs a Float32Array/);
  });

  return t;
}
