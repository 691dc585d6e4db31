// Types of ort.mjs: the subset of onnxruntime-web's API that the adapter covers.
import type { DType, ArrayOf, TypedArray, Source } from "./mlc.mjs";

export declare const env: {
  wasm: {
    /** Accepted for compatibility; mlc modules of ABI v1 run on one thread. */
    numThreads: number;
    simd: boolean;
    /** Run the model in a Worker (loadWorker) instead of this thread. */
    proxy: boolean;
    wasmPaths?: string | Record<string, string>;
  };
  logLevel: "verbose" | "info" | "warning" | "error" | "fatal";
  debug: boolean;
  versions: { mlc: string };
};

export declare namespace Tensor {
  type Type = DType;
  type DataType = TypedArray;
  type DataTypeMap = { [D in DType]: ArrayOf<D> };
}

export declare class Tensor<D extends DType = DType> {
  constructor(type: D, data: ArrayOf<D> | readonly (D extends "int64" | "uint64" ? bigint : D extends "bool" ? boolean | number : number)[], dims?: readonly number[]);
  constructor(data: ArrayOf<D>, dims?: readonly number[]);
  constructor(data: readonly number[], dims?: readonly number[]);
  readonly type: D;
  readonly data: ArrayOf<D>;
  readonly cpuData: ArrayOf<D>;
  readonly dims: readonly number[];
  readonly size: number;
  readonly location: "cpu";
  getData(): Promise<ArrayOf<D>>;
  dispose(): void;
}

export declare namespace InferenceSession {
  type FeedsType = { [name: string]: Tensor };
  type FetchesType = readonly string[] | { [name: string]: Tensor | null };
  type ReturnType = { [name: string]: Tensor };
  interface SessionOptions {
    /** Accepted and ignored: an mlc module has one backend, WebAssembly SIMD. */
    executionProviders?: readonly (string | { name: string })[];
    graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
    [option: string]: unknown;
  }
  interface RunOptions {
    [option: string]: unknown;
  }
  interface TensorValueMetadata {
    readonly name: string;
    readonly isTensor: true;
    readonly type: DType;
    readonly shape: readonly number[];
  }
  type ValueMetadata = TensorValueMetadata;
}

export declare class InferenceSession {
  private constructor();
  /** Loads an mlc module (.wasm, not .onnx) from a URL or its bytes. */
  static create(uri: string | URL, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: ArrayBufferLike, byteOffset: number, byteLength?: number, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  static create(source: Source, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  run(feeds: InferenceSession.FeedsType, options?: InferenceSession.RunOptions): Promise<InferenceSession.ReturnType>;
  run(feeds: InferenceSession.FeedsType, fetches: InferenceSession.FetchesType, options?: InferenceSession.RunOptions): Promise<InferenceSession.ReturnType>;
  release(): Promise<void>;
  startProfiling(): void;
  endProfiling(): void;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
}
