// Just enough protobuf for the harness: read ONNX TensorProto test data and
// write the small synthetic models (one MatMul, one Conv) that measure the
// GEMM and convolution kernels in V8.

const DTYPES = { 1: ["float32", Float32Array], 6: ["int32", Int32Array], 7: ["int64", BigInt64Array], 11: ["float64", Float64Array], 2: ["uint8", Uint8Array], 3: ["int8", Int8Array], 9: ["bool", Uint8Array] };

function varint(buf, p) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[p++];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [v, p];
    shift += 7n;
  }
}

// decodeTensor reads a serialized onnx.TensorProto: {name, dtype, dims, data}.
export function decodeTensor(buf) {
  let p = 0;
  const dims = [];
  let type = 0;
  let name = "";
  let raw = null;
  const floats = [];
  const int64s = [];
  const int32s = [];
  while (p < buf.length) {
    let key;
    [key, p] = varint(buf, p);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, p] = varint(buf, p);
      if (field === 1) dims.push(Number(v));
      else if (field === 2) type = Number(v);
      else if (field === 7) int64s.push(BigInt.asIntN(64, v));
      else if (field === 5) int32s.push(Number(BigInt.asIntN(32, v)));
    } else if (wire === 2) {
      let len;
      [len, p] = varint(buf, p);
      const body = buf.subarray(p, p + Number(len));
      p += Number(len);
      if (field === 9) raw = body;
      else if (field === 8) name = new TextDecoder().decode(body);
      else if (field === 1) {
        let q = 0;
        while (q < body.length) {
          let v;
          [v, q] = varint(body, q);
          dims.push(Number(v));
        }
      } else if (field === 4) {
        const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
        for (let i = 0; i < body.length; i += 4) floats.push(dv.getFloat32(i, true));
      } else if (field === 7 || field === 5) {
        let q = 0;
        while (q < body.length) {
          let v;
          [v, q] = varint(body, q);
          if (field === 7) int64s.push(BigInt.asIntN(64, v));
          else int32s.push(Number(BigInt.asIntN(32, v)));
        }
      }
    } else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`TensorProto: wire type ${wire}`);
  }
  const [dtype, Arr] = DTYPES[type] || [];
  if (!dtype) throw new Error(`TensorProto: data type ${type} not handled by the harness`);
  let data;
  if (raw) data = new Arr(new Uint8Array(raw).buffer);
  else if (dtype === "float32") data = Float32Array.from(floats);
  else if (dtype === "int64") data = BigInt64Array.from(int64s);
  else data = Arr.from(int32s);
  return { name, dtype, dims, data };
}

// Encoder.
function encVarint(v) {
  const out = [];
  let x = BigInt(v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const field = (n, wire) => encVarint((n << 3) | wire);
const bytesField = (n, body) => [...field(n, 2), ...encVarint(body.length), ...body];
// cat joins byte arrays (plain or typed) into one Uint8Array: large
// tensors are not spread into plain arrays (a 26 MB model took 80 s).
function cat(parts) {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const bytesFieldU8 = (n, body) => cat([field(n, 2), encVarint(body.length), body]);
const strField = (n, s) => bytesField(n, [...new TextEncoder().encode(s)]);
const intField = (n, v) => [...field(n, 0), ...encVarint(v)];

function tensorProto(name, dims, data) {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return cat([[...dims.flatMap((d) => intField(1, d)), ...intField(2, 1), ...strField(8, name)], bytesFieldU8(9, raw)]);
}

function valueInfo(name, dims) {
  const shape = dims.flatMap((d) => bytesField(1, intField(1, d)));
  const tensorType = [...intField(1, 1), ...bytesField(2, shape)];
  return [...strField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

function attrInts(name, v) {
  return [...strField(1, name), ...v.flatMap((x) => intField(8, x)), ...intField(20, 7)];
}
function attrInt(name, v) {
  return [...strField(1, name), ...intField(3, v), ...intField(20, 2)];
}

function model(nodes, inits, inputs, outputs) {
  const graph = cat([
    ...nodes.map((n) => bytesField(1, n)),
    strField(2, "bench"),
    ...inits.map((t) => bytesFieldU8(5, t)),
    ...inputs.map((v) => bytesField(11, v)),
    ...outputs.map((v) => bytesField(12, v)),
  ]);
  const opset = [...strField(1, ""), ...intField(2, 13)];
  return cat([intField(1, 8), strField(2, "mlc-bench"), bytesFieldU8(7, graph), bytesField(8, opset)]);
}

function randomWeights(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return a;
}

// matmulModel is Y[M,N] = X[M,K] x W[K,N] with W a constant.
export function matmulModel(M, K, N) {
  const node = [...strField(1, "X"), ...strField(1, "W"), ...strField(2, "Y"), ...strField(4, "MatMul")];
  return model([node], [tensorProto("W", [K, N], randomWeights(K * N, 1))], [valueInfo("X", [M, K])], [valueInfo("Y", [M, N])]);
}

// encodeTensor serializes a float32 onnx.TensorProto (test data files).
export function encodeTensor(name, dims, data) {
  return tensorProto(name, dims, data);
}

// convNode is a Conv node's bytes: inputs, output, square kernel k.
function convNode(x, w, b, y, k, { stride = 1, pads = [0, 0, 0, 0], dilation = 1, group = 1 }) {
  return [
    ...strField(1, x), ...strField(1, w), ...strField(1, b), ...strField(2, y), ...strField(4, "Conv"),
    ...bytesField(5, attrInts("kernel_shape", [k, k])), ...bytesField(5, attrInts("pads", pads)),
    ...bytesField(5, attrInts("strides", [stride, stride])), ...bytesField(5, attrInts("dilations", [dilation, dilation])),
    ...bytesField(5, attrInt("group", group)),
  ];
}

// asppModel is a DeepLab ASPP-like head on an HxH map of C channels: a 1x1
// branch and one 3x3 branch per dilation (padding = dilation), each C -> M
// with Relu, concatenated and projected back to M by a 1x1 Conv with Relu.
export function asppModel(C, H, M, dilations) {
  const nodes = [];
  const inits = [];
  const branches = [];
  const relu = (x, y) => nodes.push([...strField(1, x), ...strField(2, y), ...strField(4, "Relu")]);
  const branch = (i, k, d) => {
    inits.push(tensorProto(`w${i}`, [M, C, k, k], randomWeights(M * C * k * k, 10 + i)), tensorProto(`b${i}`, [M], randomWeights(M, 20 + i)));
    const p = k === 1 ? 0 : d;
    nodes.push(convNode("X", `w${i}`, `b${i}`, `c${i}`, k, { pads: [p, p, p, p], dilation: d }));
    relu(`c${i}`, `r${i}`);
    branches.push(`r${i}`);
  };
  branch(0, 1, 1);
  dilations.forEach((d, i) => branch(i + 1, 3, d));
  const axis = [...strField(1, "axis"), ...intField(3, 1), ...intField(20, 2)];
  nodes.push([...branches.flatMap((b) => strField(1, b)), ...strField(2, "cat"), ...strField(4, "Concat"), ...bytesField(5, axis)]);
  const K = M * branches.length;
  inits.push(tensorProto("wp", [M, K, 1, 1], randomWeights(M * K, 30)), tensorProto("bp", [M], randomWeights(M, 31)));
  nodes.push(convNode("cat", "wp", "bp", "proj", 1, {}));
  relu("proj", "Y");
  return model(nodes, inits, [valueInfo("X", [1, C, H, H])], [valueInfo("Y", [1, M, H, H])]);
}

// decoderModel is a U-Net's decoder step on an HxW map of C channels, its
// encoder step beside it so that the upsampled and the skip maps are
// activations:
//
//   s = Relu(Conv3x3(X)), p = MaxPool2x2(s), b = Relu(Conv3x3(p))  [1, 2C, H/2, W/2]
//   u = Resize(b; mode, scales [1, 1, 2, 2]), cat = Concat(u, s; axis 1)
//   Y = Relu(Conv3x3(cat))   [1, C, H, W]
//
// resize holds the Resize's string attributes (mode,
// coordinate_transformation_mode, nearest_mode).
export function decoderModel(C, H, W, resize) {
  const node = (op, ins, outs, attrs = []) => [...ins.flatMap((x) => strField(1, x)), ...outs.flatMap((y) => strField(2, y)), ...strField(4, op), ...attrs.flatMap((a) => bytesField(5, a))];
  const attrStr = (name, v) => [...strField(1, name), ...strField(4, v), ...intField(20, 3)];
  const p1 = { pads: [1, 1, 1, 1] };
  const nodes = [
    convNode("X", "w1", "b1", "c1", 3, p1),
    node("Relu", ["c1"], ["s"]),
    node("MaxPool", ["s"], ["p"], [attrInts("kernel_shape", [2, 2]), attrInts("strides", [2, 2])]),
    convNode("p", "w2", "b2", "c2", 3, p1),
    node("Relu", ["c2"], ["b"]),
    node("Resize", ["b", "", "scales"], ["u"], Object.entries(resize).map(([k, v]) => attrStr(k, v))),
    node("Concat", ["u", "s"], ["cat"], [attrInt("axis", 1)]),
    convNode("cat", "w3", "b3", "c3", 3, p1),
    node("Relu", ["c3"], ["Y"]),
  ];
  const inits = [
    tensorProto("w1", [C, C, 3, 3], randomWeights(C * C * 9, 50)), tensorProto("b1", [C], randomWeights(C, 51)),
    tensorProto("w2", [2 * C, C, 3, 3], randomWeights(2 * C * C * 9, 52)), tensorProto("b2", [2 * C], randomWeights(2 * C, 53)),
    tensorProto("w3", [C, 3 * C, 3, 3], randomWeights(3 * C * C * 9, 54)), tensorProto("b3", [C], randomWeights(C, 55)),
    tensorProto("scales", [4], Float32Array.of(1, 1, 2, 2)),
  ];
  return model(nodes, inits, [valueInfo("X", [1, C, H, W])], [valueInfo("Y", [1, C, H, W])]);
}

// concatModel joins maps of C channels (HxH) in the ways the memory plan
// treats differently: along channels (contiguous slices) with an input
// read again after the Concat, along rows (strided slices), and into the
// graph output itself:
//
//   a = Relu(Conv1x1(X)), b = Sigmoid(X), cat = Concat(a, b; axis 1)
//   s = Conv1x1(cat) + a, w = Concat(s, a; axis 2)
//   r = Relu(w), t = Tanh(w), Y = Concat(r, t; axis 1)   [1, 2C, 2H, H]
//   V = r * t (inputs of the Concat into Y read after it)   [1, C, 2H, H]
export function concatModel(C, H) {
  const node = (op, ins, outs, attrs = []) => [...ins.flatMap((x) => strField(1, x)), ...outs.flatMap((y) => strField(2, y)), ...strField(4, op), ...attrs.flatMap((a) => bytesField(5, a))];
  const concat = (ins, y, axis) => node("Concat", ins, [y], [attrInt("axis", axis)]);
  const nodes = [
    convNode("X", "w1", "b1", "c1", 1, {}),
    node("Relu", ["c1"], ["a"]),
    node("Sigmoid", ["X"], ["b"]),
    concat(["a", "b"], "cat", 1),
    convNode("cat", "w2", "b2", "z", 1, {}),
    node("Add", ["z", "a"], ["s"]),
    concat(["s", "a"], "w", 2),
    node("Relu", ["w"], ["r"]),
    node("Tanh", ["w"], ["t"]),
    concat(["r", "t"], "Y", 1),
    node("Mul", ["r", "t"], ["V"]),
  ];
  const inits = [
    tensorProto("w1", [C, C, 1, 1], randomWeights(C * C, 40)), tensorProto("b1", [C], randomWeights(C, 41)),
    tensorProto("w2", [C, 2 * C, 1, 1], randomWeights(2 * C * C, 42)), tensorProto("b2", [C], randomWeights(C, 43)),
  ];
  return model(nodes, inits, [valueInfo("X", [1, C, H, H])], [valueInfo("Y", [1, 2 * C, 2 * H, H]), valueInfo("V", [1, C, 2 * H, H])]);
}

// convModelOf is one Conv (weights and bias constant) with square kernel
// k, then an optional activation ("Relu", or "Clip6": Clip(0, 6)); pads
// [top, left, bottom, right] overrides pad.
export function convModelOf(C, H, W, M, k, { stride = 1, pad = 0, pads = null, dilation = 1, group = 1, act = null } = {}) {
  const y = act ? "Z" : "Y";
  const pd = pads || [pad, pad, pad, pad];
  const nodes = [convNode("X", "W", "B", y, k, { stride, pads: pd, dilation, group })];
  const inits = [tensorProto("W", [M, C / group, k, k], randomWeights((M * C * k * k) / group, 2)), tensorProto("B", [M], randomWeights(M, 3))];
  if (act === "Relu") nodes.push([...strField(1, "Z"), ...strField(2, "Y"), ...strField(4, "Relu")]);
  if (act === "Clip6") {
    nodes.push([...strField(1, "Z"), ...strField(1, "lo"), ...strField(1, "hi"), ...strField(2, "Y"), ...strField(4, "Clip")]);
    inits.push(tensorProto("lo", [], Float32Array.of(0)), tensorProto("hi", [], Float32Array.of(6)));
  }
  const ext = dilation * (k - 1) + 1;
  const Ho = Math.floor((H + pd[0] + pd[2] - ext) / stride) + 1;
  const Wo = Math.floor((W + pd[1] + pd[3] - ext) / stride) + 1;
  return model(nodes, inits, [valueInfo("X", [1, C, H, W])], [valueInfo("Y", [1, M, Ho, Wo])]);
}

// maxPoolModel is one MaxPool with square kernel k.
export function maxPoolModel(C, H, W, k, stride, pad) {
  const node = [
    ...strField(1, "X"), ...strField(2, "Y"), ...strField(4, "MaxPool"),
    ...bytesField(5, attrInts("kernel_shape", [k, k])), ...bytesField(5, attrInts("pads", [pad, pad, pad, pad])),
    ...bytesField(5, attrInts("strides", [stride, stride])),
  ];
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - k) / stride) + 1;
  return model([node], [], [valueInfo("X", [1, C, H, W])], [valueInfo("Y", [1, C, Ho, Wo])]);
}

// convModel is one Conv (weights and bias constant) with square kernel k.
export function convModel(C, H, W, M, k, stride, pad) {
  const node = [
    ...strField(1, "X"), ...strField(1, "W"), ...strField(1, "B"), ...strField(2, "Y"), ...strField(4, "Conv"),
    ...bytesField(5, attrInts("kernel_shape", [k, k])), ...bytesField(5, attrInts("pads", [pad, pad, pad, pad])),
    ...bytesField(5, attrInts("strides", [stride, stride])), ...bytesField(5, attrInt("group", 1)),
  ];
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - k) / stride) + 1;
  return model(
    [node],
    [tensorProto("W", [M, C, k, k], randomWeights(M * C * k * k, 2)), tensorProto("B", [M], randomWeights(M, 3))],
    [valueInfo("X", [1, C, H, W])],
    [valueInfo("Y", [1, M, Ho, Wo])],
  );
}
