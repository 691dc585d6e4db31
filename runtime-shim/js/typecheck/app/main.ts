// A fresh TypeScript app using @mlc-compiler/runtime as npm installs it and
// typed bindings written by `mlc compile --emit js` (TestTypes in
// ../../types_test.go lays it out, checks it with tsc --strict in three
// module-resolution modes, then runs it on Node). Each @ts-expect-error is a
// mistake the types must catch: tsc fails if one is not an error.
import { load, loadWorker, compile, readMetadata, arrayTypeOf, type Tensor, type Metadata, type Model, type Source } from "@mlc-compiler/runtime";
import * as ort from "@mlc-compiler/runtime/ort";
import * as tiny from "./tiny/tiny_cnn.mjs"; // bindings importing the package
import * as local from "./tiny-local/tiny_cnn.mjs"; // bindings with the runtime copied beside them
import * as odd from "./odd/odd names.mjs"; // tiny_cnn renamed: names no identifier could hold

const image = new Float32Array(64).fill(0.5);

// Typed bindings: names, dtypes and shapes come from the module.
const model = await tiny.load();
const out = model.run({ image });
const probs: Float32Array = out.probs.data;
const shape: [1, 10] = out.probs.shape;

const oddModel = await odd.load();
const oddOut = oddModel.run({ "x:0 \"quoted\" */ `${tpl}` \u2028 end": image });
const oddProbs: Float32Array = oddOut["out/1.\\"].data;

const worker = await local.loadWorker({ instances: 2 });
const res = await worker.run({ image: new Float32Array(64).fill(0.5) }, { transfer: true });
const wprobs: Float32Array = res.probs.data;
await worker.terminate();

// The generic API: outputs are a union discriminated by dtype.
const src: Source = fetchless(tiny.wasmURL);
const generic: Model = await load(await compile(src));
const t = generic.run({ image })["probs"];
if (t.dtype === "float32") {
  const f: Float32Array = t.data;
  void f;
} else if (t.dtype === "int64") {
  const b: BigInt64Array = t.data;
  void b;
}
const meta: Metadata = readMetadata(await compile(tiny.wasmURL));
const fixed: string[] | undefined = meta.fixed_inputs;
const I64 = arrayTypeOf("int64");
const i64: BigInt64Array = new I64(new ArrayBuffer(8));
const w2 = await loadWorker(tiny.wasmURL);
await w2.terminate();

// An onnxruntime-web snippet, unchanged but for the import.
const session = await ort.InferenceSession.create(tiny.wasmURL.href);
const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", image, [1, 1, 8, 8]) };
const results = await session.run(feeds);
const logits = results[session.outputNames[0]];
await session.release();

// Mistakes the types must catch (never called: they would throw at run time).
function mistakes(model: Model<tiny.Signature>, out: tiny.Outputs) {
  // @ts-expect-error the model has no input "img"
  model.run({ img: image });
  // @ts-expect-error "image" is float32: an Int32Array is refused
  model.run({ image: new Int32Array(64) });
  // @ts-expect-error a tensor-like feed with the wrong shape
  model.run({ image: { data: image, shape: [1, 64] } });
  // @ts-expect-error every input is required
  model.run({});
  // @ts-expect-error the model has no output "logits"
  void out.logits;
  // @ts-expect-error probs is float32: its data is no Int32Array
  const wrong: Int32Array = out.probs.data;
  void wrong;
  // @ts-expect-error the odd model's input is not called "image"
  void odd.load().then((m) => m.run({ image }));
  const f32 = out.probs as Tensor<"float32">;
  // @ts-expect-error Tensor<"float32"> holds a Float32Array
  const notF64: Float64Array = f32.data;
  void notF64;
}
void mistakes;

function fetchless(u: URL): Source {
  return u;
}

console.log(
  JSON.stringify({
    probs: Array.from(probs),
    shape,
    worker: Array.from(wprobs),
    generic: Array.from(t.data as Float32Array),
    odd: Array.from(oddProbs),
    ort: { dims: logits.dims, data: Array.from(logits.data as Float32Array) },
    fixed: fixed ?? null,
    i64: i64.length,
  }),
);
