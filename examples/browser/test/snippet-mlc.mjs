// An onnxruntime-web snippet, written the way its docs write one. snippet-ort.mjs
// and snippet-mlc.mjs differ only in the import line: the browser test runs both
// on the same models and checks that nothing else differs.
import * as ort from "/runtime/ort.mjs";

export async function classify(modelUrl, data, dims) {
  const session = await ort.InferenceSession.create(modelUrl, { executionProviders: ["wasm"] });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
  const results = await session.run(feeds);
  const output = results[session.outputNames[0]];
  await session.release();
  return { type: output.type, dims: output.dims, data: output.data };
}

export { ort };
