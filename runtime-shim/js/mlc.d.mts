// Types of mlc.mjs, the JavaScript host of mlc modules (ABI versions 1, 2 and 3).

export declare const ABI_VERSION: 1;
/** The ABI of threaded modules (mlc compile --threads N). */
export declare const ABI_THREADS: 2;
/** ABI 2 plus the WASI monotonic clock, with which a module times the nodes it splits: what mlc compile --threads N emits. */
export declare const ABI_TIMED_THREADS: 3;

/** The typed array that holds each dtype's elements (sub-byte and 8-bit float types: raw bytes). */
export interface ArrayTypes {
  float32: Float32Array;
  float64: Float64Array;
  /** Raw IEEE half-precision bits. */
  float16: Uint16Array;
  /** Raw bfloat16 bits. */
  bfloat16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  /** One byte per element, 0 or 1. */
  bool: Uint8Array;
  float8_e4m3fn: Uint8Array;
  float8_e4m3fnuz: Uint8Array;
  float8_e5m2: Uint8Array;
  float8_e5m2fnuz: Uint8Array;
  float8_e8m0fnu: Uint8Array;
  /** Two elements per byte, low nibble first. */
  float4_e2m1fn: Uint8Array;
  int4: Uint8Array;
  uint4: Uint8Array;
  /** Four elements per byte, low bits first. */
  int2: Uint8Array;
  uint2: Uint8Array;
}

/** The element types of ABI v1, by numpy's names. */
export type DType = keyof ArrayTypes;

/** The typed array of a dtype: ArrayOf<"float32"> is Float32Array. */
export type ArrayOf<D extends DType> = ArrayTypes[D];

export type TypedArray = ArrayTypes[DType];

/** An output: Tensor<"float32"> has a Float32Array; plain Tensor is a union discriminated by dtype. */
export type Tensor<D extends DType = DType, S extends readonly number[] = number[]> = D extends DType
  ? { dtype: D; shape: S; data: ArrayOf<D> }
  : never;

/** One input or output of a module, as its metadata describes it. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte address in the module's memory. */
  offset: number;
  /** product(shape) x itemsize, rounded up to a byte for sub-byte types. */
  bytes: number;
}

/** The "mlc" custom section of a module (ABI v1). */
export interface Metadata {
  /** 1, or 2 for a threaded module (then threads is set). */
  abi: 1 | 2;
  /** Threads a threaded module can use: this one and up to threads-1 helpers. */
  threads?: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  producer: string;
  model_sha256: string;
  memory_bytes: number;
  simd: boolean;
  /** Compile flags that change the code. */
  options?: string[];
  /** mlc_run's non-zero results and their meaning. */
  run_errors?: Record<string, string>;
  /** Inputs the module was specialized on: they must be given exactly the compiled-in value. */
  fixed_inputs?: string[];
}

/** What one tensor of a model is: its dtype and shape. Generated bindings describe each model with these. */
export interface TensorSpec {
  dtype: DType;
  shape: readonly number[];
}

/** A model's inputs and outputs by name. Model<S> and WorkerModel<S> check feeds and outputs against S. */
export interface Signature {
  inputs: { [name: string]: TensorSpec };
  outputs: { [name: string]: TensorSpec };
}

type NumberOf<D extends DType> = D extends "int64" | "uint64" ? bigint : number;

/**
 * One input: a typed array of its dtype, an array of numbers, or a tensor-like
 * object whose dtype and shape, when given, must match. (Model.setInput also
 * takes the raw little-endian bytes of any dtype as a Uint8Array.)
 */
export type Feed<D extends DType = DType, S extends readonly number[] = readonly number[]> = D extends DType
  ? ArrayOf<D> | readonly NumberOf<D>[] | { data: ArrayOf<D> | readonly NumberOf<D>[]; dtype?: D; shape?: S }
  : never;

/** The inputs of a run: every input of S by name. */
export type Feeds<S extends Signature = Signature> = { [K in keyof S["inputs"]]: Feed<S["inputs"][K]["dtype"], S["inputs"][K]["shape"]> };

/** The outputs of a run: every output of S by name. */
export type Outputs<S extends Signature = Signature> = {
  [K in keyof S["outputs"]]: Tensor<S["outputs"][K]["dtype"], S["outputs"][K]["shape"] extends number[] ? S["outputs"][K]["shape"] : [...S["outputs"][K]["shape"]]>;
};

/**
 * Where a module comes from: its bytes, a compiled WebAssembly.Module, a
 * Response or a Promise of one (fetch(url)), or a URL (string or URL; in Node
 * also a file path or file: URL).
 */
export type Source = ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response | PromiseLike<Response> | URL | string;

export declare function arrayTypeOf<D extends DType>(dtype: D): { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): ArrayOf<D>; BYTES_PER_ELEMENT: number };
/** The byte size of a tensor, or an Error saying why it has none (unknown dtype, bad or overflowing shape). */
export declare function tensorBytes(dtype: string, shape: readonly number[]): number | Error;
/** Reads the metadata of a compiled module or of module bytes (bytes are parsed, never compiled). */
export declare function readMetadata(module: WebAssembly.Module | ArrayBuffer | ArrayBufferView): Metadata;
/** Throws unless the metadata describes tensors a host can trust (inside memoryBytes, when given). */
export declare function checkMetadata(meta: Metadata, memoryBytes?: number): Metadata;
/** Compiles without instantiating (streaming from a Response served as application/wasm): compile once, load many. */
export declare function compile(source: Source): Promise<WebAssembly.Module>;
/** Instantiates a compiled module on this thread (a threaded module's memory: given, or made; no helper threads). */
export declare function instantiate<S extends Signature = Signature>(
  module: WebAssembly.Module,
  meta?: Metadata,
  options?: { memory?: WebAssembly.Memory; shared?: boolean },
): Promise<Model<S>>;

export interface LoadOptions {
  /** Threads for a threaded module, this one included: default as many as the machine has, at most the module's. */
  threads?: number;
  /** Where worker.mjs is served, when not beside mlc.mjs (a threaded module's helpers and the prefault helper run it). */
  workerURL?: string | URL;
  /**
   * Whether a helper thread touches the memory's pages while this one
   * places the weights (default true where shared memory exists: Node, and
   * cross-origin-isolated pages; the memory is then shared). Loads from
   * bytes, a Response, a URL or a path; false loads as before, unshared.
   */
  prefault?: boolean;
}

/**
 * Compiles (if need be) and instantiates a module on this thread; run() is
 * synchronous. A threaded module also starts its helper threads (see
 * Model.threads and Model.warnings; close() stops them).
 */
export declare function load<S extends Signature = Signature>(source: Source, options?: LoadOptions): Promise<Model<S>>;

/** A model instance on this thread. */
export declare class Model<S extends Signature = Signature> {
  constructor(instance: WebAssembly.Instance, meta: Metadata);
  readonly instance: WebAssembly.Instance;
  readonly meta: Metadata;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Writes one input into memory (a Uint8Array is taken as the raw bytes of any dtype). */
  setInput<K extends keyof S["inputs"] & string>(name: K, data: Feed<S["inputs"][K]["dtype"], S["inputs"][K]["shape"]> | Uint8Array): void;
  /** Runs the model on the inputs already written; throws with mlc_run's message on a non-zero result. */
  invoke(): void;
  /** Copies one output out of memory. */
  getOutput<K extends keyof S["outputs"] & string>(name: K): Outputs<S>[K];
  /** Writes every input, runs, and returns a copy of every output. */
  run(feeds: Feeds<S>): Outputs<S>;
  /** Threads running the model: 1, or a threaded module's helpers and this one. */
  readonly threads: number;
  /** Why the model runs on fewer threads than it could (no cross-origin isolation, a page's main thread). */
  readonly warnings: string[];
  /** Stops a threaded model's helper threads (it still runs afterwards, on this thread). */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Instances (each in its own worker) that share the queue of runs; default 1. */
  instances?: number;
  /** Transfer input arrays that own their whole ArrayBuffer to the worker (they are detached after run); default true. */
  transfer?: boolean;
  /** Where worker.mjs is served, when not beside mlc.mjs. */
  workerURL?: string | URL;
  /** Threads per instance for a threaded module, its worker included: default as many as the machine has, at most the module's. */
  threads?: number;
  /** As LoadOptions.prefault: a helper thread touches each instance's memory while its worker places the weights (default true where shared memory exists). */
  prefault?: boolean;
}

/** A model whose instances run in workers (Worker in browsers, worker_threads in Node). */
export declare class WorkerModel<S extends Signature = Signature> {
  readonly meta: Metadata;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly instances: number;
  /** Threads each instance runs on (1 unless the module is threaded). */
  readonly threads: number;
  /** Why instances run on fewer threads than they could (no cross-origin isolation). */
  readonly warnings: string[];
  /** Runs on a free instance (queued while all are busy); never blocks the calling thread. */
  run(feeds: Feeds<S>, options?: { transfer?: boolean }): Promise<Outputs<S>>;
  /** Stops the workers; pending runs are rejected. */
  terminate(): Promise<void>;
}

/** Whether this engine runs relaxed SIMD (modules from mlc compile --relaxed-simd). */
export declare function relaxedSIMDSupported(): boolean;
/** Picks `relaxed` (an mlc compile --relaxed-simd build) where the engine runs relaxed SIMD, else `plain`. */
export declare function chooseBuild<T>(builds: { relaxed?: T; plain: T }): T;

/** Compiles a module once and instantiates it in `instances` workers. */
export declare function loadWorker<S extends Signature = Signature>(source: Source, options?: WorkerOptions): Promise<WorkerModel<S>>;
