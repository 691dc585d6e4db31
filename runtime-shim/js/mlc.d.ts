// Types for mlc.mjs, the JavaScript host of mlc modules (ABI version 1).

export const ABI_VERSION: 1;

export type DType =
  | "float32" | "float64" | "float16" | "bfloat16"
  | "int8" | "int16" | "int32" | "int64"
  | "uint8" | "uint16" | "uint32" | "uint64" | "bool"
  | string;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte address in the module's memory. */
  offset: number;
  bytes: number;
}

export interface Metadata {
  abi: 1;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  producer: string;
  model_sha256: string;
  memory_bytes: number;
  simd: boolean;
  options?: string[];
  run_errors?: Record<string, string>;
}

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export type Feed = TypedArray | number[] | { data: TypedArray | number[]; dtype?: DType; shape?: number[] };

export function arrayTypeOf(dtype: DType): { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray; BYTES_PER_ELEMENT: number };
export function readMetadata(module: ArrayBuffer | Uint8Array | WebAssembly.Module): Metadata;
export function load(source: ArrayBuffer | Uint8Array | WebAssembly.Module): Promise<Model>;

export class Model {
  readonly instance: WebAssembly.Instance;
  readonly meta: Metadata;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  setInput(name: string, data: Feed): void;
  invoke(): void;
  getOutput(name: string): Tensor;
  run(feeds: Record<string, Feed>): Record<string, Tensor>;
}
