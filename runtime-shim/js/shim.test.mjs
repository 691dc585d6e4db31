// Tests of the JS shim, run by `go test ./runtime-shim/js` (which compiles
// the module given in MLC_TEST_MODULE) with Node's built-in test runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { load, readMetadata, arrayTypeOf } from "./mlc.mjs";

const bytes = readFileSync(process.env.MLC_TEST_MODULE);

test("metadata describes the inputs and outputs", () => {
  const meta = readMetadata(bytes);
  assert.equal(meta.abi, 1);
  assert.equal(meta.inputs[0].name, "image");
  assert.deepEqual(meta.inputs[0].shape, [1, 1, 8, 8]);
  assert.equal(meta.outputs[0].dtype, "float32");
});

test("run returns typed outputs and is repeatable", async () => {
  const model = await load(bytes);
  const image = new Float32Array(64).map((_, i) => (i % 7) / 7);
  const a = model.run({ image });
  const b = model.run({ image });
  assert.ok(a.probs.data instanceof Float32Array);
  assert.deepEqual(a.probs.shape, [1, 10]);
  const sum = a.probs.data.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5, `softmax sums to ${sum}`);
  assert.deepEqual(Array.from(a.probs.data), Array.from(b.probs.data));
});

test("wrong inputs are errors, not wrong answers", async () => {
  const model = await load(bytes);
  assert.throws(() => model.run({ image: new Float32Array(63) }), /must be 256 bytes/);
  assert.throws(() => model.run({ image: new Float64Array(64) }), /must be a Float32Array/);
  assert.throws(() => model.run({}), /missing input "image"/);
  assert.throws(() => model.run({ image: new Float32Array(64), other: new Float32Array(1) }), /no input "other"/);
  assert.throws(() => model.setInput("image", { data: new Float32Array(64), shape: [1, 64] }), /must have shape/);
});

test("dtype to typed array mapping", () => {
  assert.equal(arrayTypeOf("int64"), BigInt64Array);
  assert.equal(arrayTypeOf("bool"), Uint8Array);
  assert.equal(arrayTypeOf("float8_e4m3fn"), Uint8Array);
});
