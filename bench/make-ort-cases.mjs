// Writes small ONNX test cases whose golden outputs come from ONNX Runtime
// (onnxruntime-web, Wasm backend, in this process), in the ONNX backend
// test layout (model.onnx, test_data_set_0/input_0.pb, output_0.pb) with
// the case's tolerance in meta.json, as ../shared/models keeps it:
//
//   node make-ort-cases.mjs [DIR [NAME...]]   (default ../testdata/ort, every case)
//
// They cover what the backend suite does not: dilated convolutions whose
// taps read padding (the regions the kernels skip), with asymmetric
// padding, wide kernels, depthwise and strided forms, and a small
// DeepLab ASPP-like head, with enough channels that the portable shape
// runs the dilated ones as taps over regions; and Concats whose inputs the
// memory plan may put in place (an input read again after the Concat, a
// Concat along a strided axis, one into the graph output); and U-Net
// decoder steps with nearest-mode upsampling. e2e's TestORTCases runs them
// on wazero and Node.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openORT } from "./engines.mjs";
import { asppModel, concatModel, convModelOf, decoderModel, encodeTensor } from "./onnx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || path.join(here, "..", "testdata", "ort");

const conv = (C, H, W, M, k, o) => ({ bytes: convModelOf(C, H, W, M, k, o), dims: [1, C, H, W] });
const cases = {
  conv_dilation2_pad2: conv(8, 20, 20, 8, 3, { pad: 2, dilation: 2, act: "Relu" }),
  conv_dilation12_32x32: conv(64, 32, 32, 8, 3, { pad: 12, dilation: 12 }),
  conv_dilation24_32x32: conv(64, 32, 32, 12, 3, { pad: 24, dilation: 24 }),
  conv_dilation36_32x32: conv(64, 32, 32, 8, 3, { pad: 36, dilation: 36 }),
  conv_dilation3_asymmetric_pads: conv(5, 13, 11, 7, 3, { pads: [4, 1, 0, 6], dilation: 3 }),
  conv_5x5_dilation3_pad_beyond_taps: conv(4, 9, 9, 6, 5, { pad: 8, dilation: 3 }),
  conv_dilation2_stride2: conv(6, 17, 17, 5, 3, { pad: 2, dilation: 2, stride: 2 }),
  conv_depthwise_dilation2: conv(8, 14, 14, 8, 3, { pad: 2, dilation: 2, group: 8, act: "Clip6" }),
  aspp_head_32x32: { bytes: asppModel(64, 32, 16, [12, 24, 36]), dims: [1, 64, 32, 32] },
  // Winograd bands reading their input in place, with tile columns not a
  // multiple of 4 (packed tile rows: a row's last group spills into the
  // next row's first tiles), with and without a left edge strip
  winograd_in_place_122x98: conv(8, 122, 98, 8, 3, { pad: 1, act: "Relu" }),
  winograd_in_place_no_left_pad: conv(8, 122, 98, 8, 3, { pads: [2, 0, 0, 2] }),
  concat_in_place_12x12: { bytes: concatModel(8, 12), dims: [1, 8, 12, 12] },
  // a U-Net decoder step with a nearest-mode upsampling, whose Winograd
  // layer reads the upsampled and the skip maps as pieces (bands inside
  // the image and at its edges)
  unet_decoder_nearest_96x96: { bytes: decoderModel(8, 96, 96, { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }), dims: [1, 8, 96, 96] },
  unet_decoder_nearest_half_pixel_88x104: {
    bytes: decoderModel(8, 88, 104, { mode: "nearest", coordinate_transformation_mode: "half_pixel", nearest_mode: "round_prefer_ceil" }),
    dims: [1, 8, 88, 104],
  },
};
const only = process.argv.slice(3);

// float32 sums of at most a few thousand products, in another order than
// ONNX Runtime's: `mlc verify DIR` and e2e's TestORTCases both read it.
const META = JSON.stringify({ tolerance: { rtol: 1e-4, atol: 1e-5 } }) + "\n";

for (const [name, c] of Object.entries(cases)) {
  if (only.length > 0 && !only.includes(name)) continue;
  const dir = path.join(out, name);
  fs.mkdirSync(path.join(dir, "test_data_set_0"), { recursive: true });
  fs.writeFileSync(path.join(dir, "model.onnx"), c.bytes);
  fs.writeFileSync(path.join(dir, "meta.json"), META);
  const n = c.dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i) + 0.25 * Math.cos(0.13 * i));
  const o = await openORT(c.bytes, [{ name: "X", dtype: "float32", dims: c.dims, data }]);
  const res = await o.session.run({ X: new (await import("onnxruntime-web")).Tensor("float32", data, c.dims) });
  fs.writeFileSync(path.join(dir, "test_data_set_0", "input_0.pb"), encodeTensor("X", c.dims, data));
  o.session.outputNames.forEach((out, i) => {
    const y = res[out];
    fs.writeFileSync(path.join(dir, "test_data_set_0", `output_${i}.pb`), encodeTensor(out, y.dims, y.data));
    console.log(`${name}: output ${out} [${y.dims}]`);
  });
  await o.session.release();
}
