// mlc runtime shim for JavaScript (Node and browsers), dependency-free.
//
//   import { load } from "./mlc.mjs";
//   const model = await load(bytes);            // ArrayBuffer / Uint8Array / WebAssembly.Module
//   const out = model.run({ input: float32Array });
//   out.logits.data                             // Float32Array
//
// It speaks ABI version 1 (see abi/abi.go): inputs are written at their
// offsets in the module's memory, mlc_run() is called, outputs are read.

export const ABI_VERSION = 1;

const ARRAY_TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  float16: Uint16Array, // raw IEEE half bits
  bfloat16: Uint16Array, // raw bits
};

/** The typed array class holding elements of a dtype (Uint8Array for packed and 8-bit float types). */
export function arrayTypeOf(dtype) {
  return ARRAY_TYPES[dtype] || Uint8Array;
}

/** Reads the "mlc" metadata of compiled module bytes or a WebAssembly.Module. */
export function readMetadata(module) {
  const mod = module instanceof WebAssembly.Module ? module : new WebAssembly.Module(toBytes(module));
  const sections = WebAssembly.Module.customSections(mod, "mlc");
  if (sections.length === 0) throw new Error('not an mlc module: no "mlc" custom section');
  const meta = JSON.parse(new TextDecoder().decode(sections[0]));
  if (meta.abi !== ABI_VERSION) throw new Error(`mlc module ABI ${meta.abi}, this shim speaks ABI ${ABI_VERSION}`);
  return meta;
}

function toBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new TypeError("expected module bytes (ArrayBuffer or Uint8Array) or a WebAssembly.Module");
}

// The WASI imports are only used by _start; mlc_run never calls them.
function wasiStubs() {
  const unused = () => {
    throw new Error("mlc: WASI called outside _start");
  };
  return { wasi_snapshot_preview1: { fd_read: unused, fd_write: unused, proc_exit: unused } };
}

export class Model {
  constructor(instance, meta) {
    this.instance = instance;
    this.meta = meta;
    this.inputs = meta.inputs;
    this.outputs = meta.outputs;
    this._memory = instance.exports.memory;
    this._run = instance.exports.mlc_run;
  }

  /** Writes one input: a typed array of the input's dtype (or its raw bytes as a Uint8Array, or an array of numbers) with exactly the input's size. */
  setInput(name, data) {
    const t = this.inputs.find((i) => i.name === name);
    if (!t) throw new Error(`model has no input "${name}" (inputs: ${this.inputs.map((i) => i.name).join(", ")})`);
    const Arr = arrayTypeOf(t.dtype);
    let arr = data;
    if (data && data.data !== undefined && !ArrayBuffer.isView(data)) {
      if (data.dtype !== undefined && data.dtype !== t.dtype) throw new Error(`input "${name}" must be ${t.dtype}, got ${data.dtype}`);
      if (data.shape !== undefined && !sameShape(data.shape, t.shape)) throw new Error(`input "${name}" must have shape [${t.shape}], got [${data.shape}]`);
      arr = data.data;
    }
    if (Array.isArray(arr)) arr = Arr.from(arr);
    if (!ArrayBuffer.isView(arr)) throw new TypeError(`input "${name}" must be a typed array`);
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    // A Uint8Array is also accepted as the raw little-endian bytes of any dtype.
    if (!(arr instanceof Arr) && !(arr instanceof Uint8Array)) throw new TypeError(`input "${name}" must be a ${Arr.name} (${t.dtype}), got ${arr.constructor.name}`);
    if (bytes.byteLength !== t.bytes) throw new Error(`input "${name}" must be ${t.bytes} bytes (${t.dtype}[${t.shape}]), got ${bytes.byteLength}`);
    new Uint8Array(this._memory.buffer, t.offset, t.bytes).set(bytes);
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
    const t = this.outputs.find((o) => o.name === name);
    if (!t) throw new Error(`model has no output "${name}"`);
    const Arr = arrayTypeOf(t.dtype);
    const bytes = new Uint8Array(this._memory.buffer, t.offset, t.bytes).slice();
    const data = Arr === Uint8Array ? bytes : new Arr(bytes.buffer, 0, t.bytes / Arr.BYTES_PER_ELEMENT);
    return { dtype: t.dtype, shape: t.shape.slice(), data };
  }

  /** Writes all inputs, runs, and returns every output by name. */
  run(feeds) {
    for (const t of this.inputs) {
      if (!(t.name in feeds)) throw new Error(`missing input "${t.name}" (${t.dtype}[${t.shape}])`);
    }
    for (const name of Object.keys(feeds)) this.setInput(name, feeds[name]);
    this.invoke();
    const out = {};
    for (const t of this.outputs) out[t.name] = this.getOutput(t.name);
    return out;
  }
}

function sameShape(a, b) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Compiles and instantiates an mlc module (without running _start). Given
 * bytes, it hands the engine the module without its weights (the payloads
 * of its passive data segments, which the "mlc.data" section places) and
 * copies them into memory itself: the engine keeps the bytes it compiled
 * for the module's lifetime, so the weights are then resident once, in
 * memory, once the caller lets go of its bytes.
 */
export async function load(source) {
  let mod;
  let data = null;
  if (source instanceof WebAssembly.Module) {
    mod = source;
  } else {
    const bytes = toBytes(source);
    data = splitData(bytes);
    mod = await WebAssembly.compile(data ? data.module : bytes);
  }
  const meta = readMetadata(mod);
  const instance = await WebAssembly.instantiate(mod, wasiStubs());
  if (data) {
    const buf = instance.exports.memory.buffer;
    const mem = new Uint8Array(buf);
    for (const s of data.segments) mem.set(s.bytes, s.offset);
    new DataView(buf).setInt32(data.flag, 1, true); // mlc_run skips memory.init
  }
  return new Model(instance, meta);
}

/**
 * Splits an mlc module whose constants are passive data segments (it has a
 * "mlc.data" section) into the module with those segments emptied and the
 * segments' bytes with their addresses; null for other modules.
 */
function splitData(bytes) {
  let p = 8;
  const u32 = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  let layout = null;
  let dataStart = -1;
  let dataEnd = -1;
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++];
    const size = u32();
    const end = p + size;
    if (id === 0) {
      const n = u32();
      const name = new TextDecoder().decode(bytes.subarray(p, p + n));
      if (name === "mlc.data") layout = JSON.parse(new TextDecoder().decode(bytes.subarray(p + n, end)));
    } else if (id === 11) {
      dataStart = start;
      dataEnd = end;
    }
    p = end;
  }
  if (!layout || dataStart < 0) return null;
  // Re-encode the data section: passive segments become empty, active
  // ones (kernel tables) stay as they are.
  p = dataStart + 1;
  u32();
  const count = u32();
  const segments = [];
  const parts = [];
  for (let i = 0; i < count; i++) {
    const start = p;
    const kind = u32();
    if (kind === 1) {
      const size = u32();
      const pos = layout.segments[segments.length];
      if (!pos || pos.bytes !== size) return null;
      segments.push({ offset: pos.offset, bytes: bytes.subarray(p, p + size) });
      p += size;
      parts.push(Uint8Array.of(1, 0));
    } else if (kind === 0 && bytes[p] === 0x41) {
      p++; // the offset expression: i32.const n, end
      u32();
      if (bytes[p++] !== 0x0b) return null;
      const size = u32();
      p += size;
      parts.push(bytes.subarray(start, p));
    } else {
      return null; // not a layout mlc writes
    }
  }
  const leb = (v) => {
    const out = [];
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      out.push(b);
    } while (v > 0);
    return Uint8Array.from(out);
  };
  const body = [leb(count), ...parts];
  const bodySize = body.reduce((n, b) => n + b.length, 0);
  const pieces = [bytes.subarray(0, dataStart), Uint8Array.of(11), leb(bodySize), ...body, bytes.subarray(dataEnd)];
  const module = new Uint8Array(pieces.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of pieces) {
    module.set(b, o);
    o += b.length;
  }
  return { module, segments, flag: layout.flag };
}
