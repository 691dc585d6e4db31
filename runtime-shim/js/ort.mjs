// A thin adapter with the part of onnxruntime-web's API that most code uses,
// over an mlc module: moving an app is a change of the import and of the
// model's URL (model.onnx -> model.wasm). README.md lists what is covered.
//
//   import * as ort from "@mlc-compiler/runtime/ort";   // was "onnxruntime-web"
//   const session = await ort.InferenceSession.create("model.wasm");
//   const out = await session.run({ input: new ort.Tensor("float32", data, [1, 3, 224, 224]) });

import { compile, load, loadWorker, readMetadata, checkMetadata, arrayTypeOf } from "./mlc.mjs";

/** Settings read when a session is created. env.wasm.proxy runs the model in a Worker, as in onnxruntime-web. */
export const env = {
  wasm: { numThreads: 1, simd: true, proxy: false, wasmPaths: undefined },
  logLevel: "warning",
  debug: false,
  versions: { mlc: "0.1.0" },
};

// Element types onnxruntime-web infers from a typed array when none is given.
const INFERRED = [
  [Float32Array, "float32"],
  [Float64Array, "float64"],
  [Int8Array, "int8"],
  [Int16Array, "int16"],
  [Int32Array, "int32"],
  [BigInt64Array, "int64"],
  [Uint8Array, "uint8"],
  [Uint16Array, "uint16"],
  [Uint32Array, "uint32"],
  [BigUint64Array, "uint64"],
];

/** onnxruntime-web's Tensor: {type, data, dims, size}, CPU data only. */
export class Tensor {
  constructor(a, b, c) {
    let type;
    let data;
    let dims;
    if (typeof a === "string") {
      [type, data, dims] = [a, b, c];
      if (Array.isArray(data)) {
        if (type === "string") throw new TypeError("mlc modules have no string tensors (ABI v1)");
        const Arr = arrayTypeOf(type);
        data = type === "bool" ? Uint8Array.from(data, (v) => (v ? 1 : 0)) : Arr.from(data);
      }
    } else {
      [data, dims] = [a, b];
      if (Array.isArray(data)) {
        if (data.length && typeof data[0] === "boolean") [type, data] = ["bool", Uint8Array.from(data, (v) => (v ? 1 : 0))];
        else if (data.length && typeof data[0] === "string") throw new TypeError("mlc modules have no string tensors (ABI v1)");
        else [type, data] = ["float32", Float32Array.from(data)];
      } else {
        const hit = INFERRED.find(([Arr]) => data instanceof Arr);
        if (!hit) throw new TypeError("Tensor data must be a typed array or an array");
        type = hit[1];
      }
    }
    if (!ArrayBuffer.isView(data)) throw new TypeError("Tensor data must be a typed array or an array");
    const Arr = arrayTypeOf(type);
    if (!(data instanceof Arr)) throw new TypeError(`a ${type} tensor needs a ${Arr.name}, got ${data.constructor.name}`);
    dims = dims === undefined ? [data.length] : Array.from(dims);
    const size = dims.reduce((n, d) => {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad dimension ${d}`);
      return n * d;
    }, 1);
    if (size !== data.length) throw new RangeError(`Tensor's size (${size}) does not match data length (${data.length}).`);
    this.type = type;
    this.data = data;
    this.cpuData = data;
    this.dims = dims;
    this.size = size;
    this.location = "cpu";
  }

  async getData() {
    return this.data;
  }

  dispose() {}
}

/** onnxruntime-web's InferenceSession over an mlc module (.wasm), on this thread or, with env.wasm.proxy, in a Worker. */
export class InferenceSession {
  constructor(model) {
    this._model = model;
    this.inputNames = model.inputs.map((t) => t.name);
    this.outputNames = model.outputs.map((t) => t.name);
    const info = (t) => ({ name: t.name, isTensor: true, type: t.dtype, shape: t.shape.slice() });
    this.inputMetadata = model.inputs.map(info);
    this.outputMetadata = model.outputs.map(info);
  }

  /**
   * create(url | bytes [, byteOffset [, byteLength]] [, options]): the mlc
   * module (.wasm) takes the place of the .onnx file. executionProviders and
   * the graph options are accepted and have no effect: the module is already
   * optimized for one backend, WebAssembly SIMD.
   */
  static async create(source, a, b, c) {
    let options = a;
    if (typeof a === "number") {
      const offset = a;
      const length = typeof b === "number" ? b : source.byteLength - offset;
      source = new Uint8Array(source, offset, length);
      options = typeof b === "number" ? c : b;
    }
    void options;
    const module = await compile(source);
    checkMetadata(readMetadata(module));
    const model = env.wasm.proxy ? await loadWorker(module, { transfer: false }) : await load(module);
    return new InferenceSession(model);
  }

  /** run(feeds [, fetches] [, options]): feeds and results are {name: Tensor}; fetches an array of output names or an object keyed by them. */
  async run(feeds, fetches, options) {
    void options;
    if (feeds === null || typeof feeds !== "object") throw new TypeError("'feeds' must be an object that use input names as keys and OnnxValue as corresponding values.");
    let wanted = this.outputNames;
    if (Array.isArray(fetches)) wanted = fetches;
    else if (fetches && typeof fetches === "object" && Object.keys(fetches).some((k) => this.outputNames.includes(k))) wanted = Object.keys(fetches);
    for (const name of wanted) if (!this.outputNames.includes(name)) throw new RangeError(`'fetches' contains invalid output name: ${name}.`);
    const mlcFeeds = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!this.inputNames.includes(name)) throw new Error(`'${name}' is not a valid input name.`);
      mlcFeeds[name] = t instanceof Tensor || (t && t.data !== undefined) ? { data: t.data, dtype: t.type, shape: t.dims } : t;
    }
    const out = await this._model.run(mlcFeeds);
    const results = {};
    for (const name of wanted) {
      const t = out[name];
      results[name] = new Tensor(t.dtype, t.data, t.shape);
    }
    return results;
  }

  async release() {
    if (this._model.terminate) await this._model.terminate();
  }

  startProfiling() {}

  endProfiling() {}
}
