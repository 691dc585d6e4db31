// Time from fetch start to the first result, in a fresh browser context (no
// HTTP or code cache; the server also sends no-store). Before the clock
// starts: the page, the engine's JavaScript (mlc.mjs, or onnxruntime-web's
// ort.wasm.min.mjs) and the input. After: everything else, fetched, compiled
// and run: for mlc the model's module; for onnxruntime-web its Wasm engine
// (and glue) and the .onnx file. One thread each.
import { load } from "/runtime/mlc.mjs";
import { inputOf } from "./data.mjs";

const q = new URLSearchParams(location.search);
const engine = q.get("engine");
const name = q.get("model");
const dims = q.get("dims").split(",").map(Number);

async function measure() {
  const input = await inputOf(name, 0);
  let ms;
  let output;
  if (engine === "mlc") {
    const t0 = performance.now();
    const model = await load(fetch(`/models/${name}.wasm`));
    const out = model.run({ [model.inputs[0].name]: input });
    ms = performance.now() - t0;
    output = out[model.outputs[0].name].data;
  } else {
    const ort = await import("/ort/ort.wasm.min.mjs");
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(`/onnx/${name}/model.onnx`, { executionProviders: ["wasm"] });
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, dims) });
    ms = performance.now() - t0;
    output = out[session.outputNames[0]].data;
  }
  return { engine, ms, output: Array.from(output) };
}

window.coldstart = measure();
