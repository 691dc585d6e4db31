package codegen_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// The ONNX backend cases of the quantization operators are tiny (a 2x4 by
// 4x3 product): these tests run shapes that reach every path of the
// kernels (SIMD tiles and their remainders, unrolled K loops, batch
// broadcasting, per-row/column/channel parameters, grouped and strided
// convolutions, packed and float8 types) and compare the Wasm results, with
// and without SIMD, bit for bit with the reference interpreter, which the
// backend cases check against ONNX's expected outputs.

// qmodel is a one-node model; inputs listed in consts become
// initializers, the others graph inputs.
type qmodel struct {
	op      string
	opset   int
	attrs   []*onnxpb.AttributeProto
	names   []string // node inputs; "" for omitted ones
	tensors map[string]*ir.Tensor
	consts  map[string]bool
	outs    int
}

// check compiles the model with and without SIMD, and without the
// compile-time weight packing (-O0), and compares every output with the
// reference interpreter's bit for bit (NaN payloads aside).
func (q *qmodel) check(t *testing.T) {
	t.Helper()
	n := optest.Node{Op: q.op, Opset: q.opset, Inputs: q.names, Attrs: q.attrs}
	for i := 0; i < q.outs; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("y%d", i))
	}
	runtime, consts := map[string]*ir.Tensor{}, map[string]*ir.Tensor{}
	for _, name := range q.names {
		if name == "" {
			continue
		}
		if q.consts[name] {
			consts[name] = q.tensors[name]
		} else {
			runtime[name] = q.tensors[name]
		}
	}
	noSIMD, o0 := mlc.DefaultOptions(), mlc.DefaultOptions()
	noSIMD.NoSIMD, o0.OptLevel = true, 0
	if msg := optest.Run(n, runtime, consts, mlc.DefaultOptions(), noSIMD, o0); msg != "" {
		t.Fatal(msg)
	}
}

func randInts(r *rand.Rand, dt ir.DType, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, ir.Shape(shape))
	lo, hi := ir.QuantRange(dt)
	for i := 0; i < t.Len(); i++ {
		t.SetInt(i, lo+r.Int64N(hi-lo+1))
	}
	return t
}

func reinterpret(t *ir.Tensor, dt ir.DType) *ir.Tensor {
	t.DType = dt
	return t
}

func TestQLinearMatMulShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type tc struct {
		a, b   []int
		adt    ir.DType
		bdt    ir.DType
		ydt    ir.DType
		sdt    ir.DType
		rowA   bool // per-row a_scale/a_zero_point
		colB   bool // per-column b_scale/b_zero_point
		constB bool
		symB   bool // b_zero_point 0: B packs as int8
	}
	cases := []tc{
		{a: []int{10, 77}, b: []int{77, 21}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Uint8, sdt: ir.Float32, constB: true, symB: true, colB: true},
		{a: []int{7, 37}, b: []int{37, 13}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Uint8, sdt: ir.Float32},
		{a: []int{8, 200}, b: []int{200, 16}, adt: ir.Int8, bdt: ir.Int8, ydt: ir.Int8, sdt: ir.Float32, constB: true},
		{a: []int{5, 64}, b: []int{64, 11}, adt: ir.Uint8, bdt: ir.Uint8, ydt: ir.Uint8, sdt: ir.Float32, rowA: true},
		{a: []int{6, 33}, b: []int{33, 10}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Int8, sdt: ir.Float32, colB: true},
		{a: []int{9, 70}, b: []int{70, 14}, adt: ir.Int8, bdt: ir.Uint8, ydt: ir.Uint8, sdt: ir.Float32, rowA: true, colB: true},
		{a: []int{3, 5, 20}, b: []int{20, 9}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Uint8, sdt: ir.Float16},
		{a: []int{5, 24}, b: []int{2, 24, 8}, adt: ir.Int8, bdt: ir.Int8, ydt: ir.Int8, sdt: ir.BFloat16, constB: true},
		{a: []int{2, 1, 4, 16}, b: []int{3, 16, 8}, adt: ir.Uint8, bdt: ir.Uint8, ydt: ir.Int8, sdt: ir.Float32},
		{a: []int{19}, b: []int{19, 6}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Uint8, sdt: ir.Float32},
		{a: []int{4, 19}, b: []int{19}, adt: ir.Uint8, bdt: ir.Int8, ydt: ir.Uint8, sdt: ir.Float32},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			M := 1
			if len(c.a) > 1 {
				M = c.a[len(c.a)-2]
			}
			N := 1
			if len(c.b) > 1 {
				N = c.b[len(c.b)-1]
			}
			na, nb := 1, 1
			if c.rowA {
				na = M
			}
			if c.colB {
				nb = N
			}
			q := &qmodel{op: "QLinearMatMul", opset: 21, outs: 1,
				names: []string{"a", "sa", "za", "b", "sb", "zb", "sy", "zy"},
				tensors: map[string]*ir.Tensor{
					"a": randInts(r, c.adt, c.a...), "sa": randTensor(r, c.sdt, ir.Shape{na}, 0.01, 0.05),
					"za": randInts(r, c.adt, na), "b": randInts(r, c.bdt, c.b...),
					"sb": randTensor(r, c.sdt, ir.Shape{nb}, 0.01, 0.05), "zb": randInts(r, c.bdt, nb),
					"sy": randTensor(r, c.sdt, ir.Shape{1}, 0.5, 3), "zy": randInts(r, c.ydt, 1),
				},
				consts: map[string]bool{"b": c.constB, "sb": c.constB, "zb": c.constB},
			}
			if c.symB {
				q.tensors["zb"] = ir.NewTensor(c.bdt, ir.Shape{nb})
			}
			q.check(t)
		})
	}
}

func TestMatMulIntegerShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i, c := range []struct {
		a, b   []int
		zp     int // 0: none, 1: scalars, 2: vectors
		adt    ir.DType
		bdt    ir.DType
		constB bool
	}{
		{[]int{11, 45}, []int{45, 7}, 1, ir.Uint8, ir.Int8, false},
		{[]int{4, 9, 40}, []int{40, 12}, 2, ir.Uint8, ir.Uint8, true},
		{[]int{2, 3, 17}, []int{2, 17, 5}, 0, ir.Int8, ir.Int8, false},
		{[]int{1, 300}, []int{300, 33}, 2, ir.Int8, ir.Uint8, true},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q := &qmodel{op: "MatMulInteger", opset: 10, outs: 1, names: []string{"a", "b"},
				tensors: map[string]*ir.Tensor{"a": randInts(r, c.adt, c.a...), "b": randInts(r, c.bdt, c.b...)},
				consts:  map[string]bool{"b": c.constB, "zb": c.constB},
			}
			switch c.zp {
			case 1:
				q.names = append(q.names, "za", "zb")
				q.tensors["za"], q.tensors["zb"] = randInts(r, c.adt), randInts(r, c.bdt)
			case 2:
				q.names = append(q.names, "za", "zb")
				q.tensors["za"] = randInts(r, c.adt, c.a[len(c.a)-2])
				q.tensors["zb"] = randInts(r, c.bdt, c.b[len(c.b)-1])
			}
			q.check(t)
		})
	}
}

func TestQLinearConvShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type tc struct {
		x, w       []int
		attrs      []*onnxpb.AttributeProto
		xdt, wdt   ir.DType
		perChannel bool
		bias       bool
		integer    bool // ConvInteger instead of QLinearConv
		symW       bool // w_zero_point 0: W packs as int8
	}
	cases := []tc{
		{x: []int{1, 8, 10, 10}, w: []int{12, 8, 3, 3}, xdt: ir.Uint8, wdt: ir.Int8, perChannel: true, bias: true, symW: true,
			attrs: []*onnxpb.AttributeProto{optest.Ints("pads", 1, 1, 1, 1)}},
		{x: []int{2, 6, 9, 11}, w: []int{8, 3, 3, 3}, xdt: ir.Uint8, wdt: ir.Int8, perChannel: true, bias: true,
			attrs: []*onnxpb.AttributeProto{optest.Int("group", 2), optest.Ints("pads", 1, 1, 1, 1), optest.Ints("strides", 2, 1)}},
		{x: []int{1, 4, 12, 12}, w: []int{4, 1, 3, 3}, xdt: ir.Uint8, wdt: ir.Uint8, bias: true,
			attrs: []*onnxpb.AttributeProto{optest.Int("group", 4), optest.String("auto_pad", "SAME_UPPER"), optest.Ints("dilations", 2, 2)}},
		{x: []int{1, 16, 7, 7}, w: []int{10, 16, 1, 1}, xdt: ir.Int8, wdt: ir.Int8, perChannel: true},
		{x: []int{2, 12, 5, 6}, w: []int{6, 12, 1, 1}, xdt: ir.Uint8, wdt: ir.Int8, bias: true},
		{x: []int{1, 20, 4, 4}, w: []int{8, 10, 1, 1}, xdt: ir.Uint8, wdt: ir.Uint8, attrs: []*onnxpb.AttributeProto{optest.Int("group", 2)}},
		{x: []int{1, 3, 9}, w: []int{4, 3, 1}, xdt: ir.Int8, wdt: ir.Int8, integer: true},
		{x: []int{2, 3, 20}, w: []int{5, 3, 4}, xdt: ir.Uint8, wdt: ir.Int8, bias: true,
			attrs: []*onnxpb.AttributeProto{optest.Ints("pads", 2, 1), optest.Ints("strides", 3)}},
		{x: []int{1, 2, 5, 6, 7}, w: []int{3, 2, 2, 3, 2}, xdt: ir.Uint8, wdt: ir.Int8, perChannel: true,
			attrs: []*onnxpb.AttributeProto{optest.Ints("pads", 1, 0, 1, 0, 1, 1)}},
		{x: []int{2, 6, 9, 11}, w: []int{8, 3, 3, 3}, xdt: ir.Uint8, wdt: ir.Int8, integer: true, perChannel: true,
			attrs: []*onnxpb.AttributeProto{optest.Int("group", 2), optest.Ints("pads", 1, 2, 1, 0)}},
		{x: []int{1, 5, 8, 8}, w: []int{7, 5, 2, 2}, xdt: ir.Int8, wdt: ir.Uint8, integer: true,
			attrs: []*onnxpb.AttributeProto{optest.Ints("strides", 2, 2)}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			M := c.w[0]
			nw := 1
			if c.perChannel {
				nw = M
			}
			q := &qmodel{opset: 10, outs: 1, attrs: c.attrs, consts: map[string]bool{"w": true, "sw": true, "zw": true, "b": true}}
			q.tensors = map[string]*ir.Tensor{
				"x": randInts(r, c.xdt, c.x...), "zx": randInts(r, c.xdt),
				"w": randInts(r, c.wdt, c.w...), "zw": randInts(r, c.wdt, nw),
				"sx": randTensor(r, ir.Float32, nil, 0.01, 0.05), "sw": randTensor(r, ir.Float32, ir.Shape{nw}, 0.01, 0.05),
				"sy": randTensor(r, ir.Float32, nil, 0.5, 3), "zy": randInts(r, ir.Uint8),
				"b": randInts(r, ir.Int16, M).Convert(ir.Int32),
			}
			if !c.perChannel {
				q.tensors["zw"] = randInts(r, c.wdt)
				q.tensors["sw"] = randTensor(r, ir.Float32, nil, 0.01, 0.05)
			}
			if c.symW {
				q.tensors["zw"] = ir.NewTensor(c.wdt, q.tensors["zw"].Shape)
			}
			if c.integer {
				q.op, q.names = "ConvInteger", []string{"x", "w", "zx", "zw"}
			} else {
				q.op, q.names = "QLinearConv", []string{"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"}
				if c.bias {
					q.names = append(q.names, "b")
				}
			}
			q.check(t)
		})
	}
}

func TestQuantizeLinearVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		opset   int
		x, s    *ir.Tensor
		zp      *ir.Tensor
		attrs   []*onnxpb.AttributeProto
		dequant bool
	}
	x := randTensor(r, ir.Float32, ir.Shape{3, 10, 7}, -300, 300)
	cases := []tc{
		// per-axis, negative axis, int8
		{opset: 13, x: x, s: randTensor(r, ir.Float32, ir.Shape{7}, 0.5, 2), zp: randInts(r, ir.Int8, 7), attrs: []*onnxpb.AttributeProto{optest.Int("axis", -1)}},
		// blocked with a remainder block, int4
		{opset: 21, x: x, s: randTensor(r, ir.Float32, ir.Shape{3, 3, 7}, 20, 60), zp: randInts(r, ir.Int4, 3, 3, 7), attrs: []*onnxpb.AttributeProto{optest.Int("block_size", 4)}},
		// uint2 per tensor via output_dtype, odd size
		{opset: 25, x: randTensor(r, ir.Float32, ir.Shape{3, 5}, -5, 30), s: randTensor(r, ir.Float32, nil, 5, 9), attrs: []*onnxpb.AttributeProto{optest.Int("output_dtype", 25)}},
		// float16 input and scale, uint16
		{opset: 21, x: randTensor(r, ir.Float16, ir.Shape{4, 9}, -1000, 1000), s: randTensor(r, ir.Float16, ir.Shape{9}, 0.01, 0.1), zp: randInts(r, ir.Uint16, 9), attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)}},
		// int32 input (divides in float64)
		{opset: 13, x: randInts(r, ir.Int16, 50).Convert(ir.Int32), s: randTensor(r, ir.Float32, nil, 0.3, 0.7), zp: randInts(r, ir.Int8)},
		// precision attribute: float32 x divided in float16
		{opset: 23, x: x, s: randTensor(r, ir.Float32, nil, 0.5, 2), zp: randInts(r, ir.Uint8), attrs: []*onnxpb.AttributeProto{optest.Int("precision", 10)}},
		// float8 without saturation (overflow gives inf or NaN)
		{opset: 19, x: x, s: randTensor(r, ir.Float32, nil, 0.001, 0.01), zp: ir.NewTensor(ir.Float8E5M2, nil), attrs: []*onnxpb.AttributeProto{optest.Int("saturate", 0)}},
		{opset: 19, x: x, s: randTensor(r, ir.Float32, nil, 0.01, 0.5), zp: ir.NewTensor(ir.Float8E4M3FNUZ, nil), attrs: []*onnxpb.AttributeProto{optest.Int("saturate", 0)}},
		{opset: 19, x: x, s: randTensor(r, ir.Float32, nil, 0.01, 0.5), zp: ir.NewTensor(ir.Float8E5M2FNUZ, nil)},
		{opset: 19, x: x, s: randTensor(r, ir.Float32, nil, 0.1, 0.2), zp: ir.NewTensor(ir.Float8E4M3FN, nil), attrs: []*onnxpb.AttributeProto{optest.Int("saturate", 0)}},
		// dequantization: blocked int4 on axis 0, int32, float8 with an e8m0 scale
		{opset: 21, dequant: true, x: randInts(r, ir.Int4, 9, 5), s: randTensor(r, ir.Float32, ir.Shape{3, 5}, 0.1, 1), zp: randInts(r, ir.Int4, 3, 5), attrs: []*onnxpb.AttributeProto{optest.Int("axis", 0), optest.Int("block_size", 4)}},
		{opset: 13, dequant: true, x: randInts(r, ir.Int16, 33).Convert(ir.Int32), s: randTensor(r, ir.Float32, nil, 0.1, 1)},
		{opset: 25, dequant: true, x: reinterpret(randInts(r, ir.Uint8, 6, 7), ir.Float8E4M3FNUZ), s: randTensor(r, ir.Float8E8M0, ir.Shape{7}, 0.01, 100), attrs: []*onnxpb.AttributeProto{optest.Int("output_dtype", 16), optest.Int("axis", -1)}},
		{opset: 21, dequant: true, x: randInts(r, ir.Uint16, 40), s: randTensor(r, ir.BFloat16, nil, 0.1, 1), zp: randInts(r, ir.Uint16)},
	}
	// the SIMD paths: float32 to and from 8/16-bit integers, per tensor,
	// per axis with a remainder, blocked inside a row (scales vary by lane)
	big := randTensor(r, ir.Float32, ir.Shape{2, 6, 13}, -400, 400)
	big.F32()[3], big.F32()[7], big.F32()[11] = float32(math.NaN()), 1e30, -1e30
	cases = append(cases,
		tc{opset: 13, x: big, s: randTensor(r, ir.Float32, nil, 0.5, 2), zp: randInts(r, ir.Uint8)},
		tc{opset: 13, x: big, s: randTensor(r, ir.Float32, ir.Shape{6}, 0.5, 2), zp: randInts(r, ir.Int8, 6)},
		tc{opset: 21, x: big, s: randTensor(r, ir.Float32, ir.Shape{6}, 0.01, 0.02), zp: randInts(r, ir.Int16, 6)},
		tc{opset: 21, x: big, s: randTensor(r, ir.Float32, ir.Shape{6}, 0.01, 0.02), zp: randInts(r, ir.Uint16, 6)},
		tc{opset: 21, x: big, s: randTensor(r, ir.Float32, ir.Shape{2, 2, 13}, 0.5, 2), zp: randInts(r, ir.Int8, 2, 2, 13), attrs: []*onnxpb.AttributeProto{optest.Int("block_size", 4)}},
		tc{opset: 21, x: big, s: randTensor(r, ir.Float32, nil, 0.5, 2)},
		tc{opset: 13, dequant: true, x: randInts(r, ir.Uint8, 3, 37), s: randTensor(r, ir.Float32, nil, 0.01, 1), zp: randInts(r, ir.Uint8)},
		tc{opset: 13, dequant: true, x: randInts(r, ir.Int8, 2, 5, 9), s: randTensor(r, ir.Float32, ir.Shape{5}, 0.01, 1), zp: randInts(r, ir.Int8, 5)},
		tc{opset: 21, dequant: true, x: randInts(r, ir.Int16, 2, 5, 9), s: randTensor(r, ir.Float32, ir.Shape{5}, 0.01, 1), zp: randInts(r, ir.Int16, 5)},
		tc{opset: 21, dequant: true, x: randInts(r, ir.Uint16, 4, 6, 8), s: randTensor(r, ir.Float32, ir.Shape{2, 6, 8}, 0.01, 1), zp: randInts(r, ir.Uint16, 2, 6, 8), attrs: []*onnxpb.AttributeProto{optest.Int("axis", 0), optest.Int("block_size", 2)}},
		tc{opset: 13, dequant: true, x: randInts(r, ir.Int16, 3, 17).Convert(ir.Int32), s: randTensor(r, ir.Float32, ir.Shape{17}, 0.01, 1), attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)}},
	)
	// float8 codes from raw bits, NaNs included
	raw := ir.NewTensor(ir.Float8E5M2, ir.Shape{256})
	for i := range raw.Data {
		raw.Data[i] = byte(i)
	}
	cases = append(cases, tc{opset: 19, dequant: true, x: raw, s: randTensor(r, ir.Float32, nil, 0.5, 2)})
	for _, dt := range []ir.DType{ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2FNUZ} {
		raw := raw.Clone()
		raw.DType = dt
		cases = append(cases, tc{opset: 19, dequant: true, x: raw, s: randTensor(r, ir.Float32, nil, 0.5, 2)})
	}
	// special float values through every float8 and float4 encoding
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		1e-10, -1e-10, 1e30, -1e30, 448, 464, 465, 57344, 61440, 61441, 240, 248, 0.0009765625, 0.001953125, 0.0029296875,
		6, 7, 0.25, 0.75, -0.25, 1.5e-5, 3e-5, 2.2e-5}
	sx := ir.TensorF32(ir.Shape{len(special)}, special...)
	for _, dt := range []ir.DType{ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float4E2M1} {
		for _, sat := range []int64{0, 1} {
			cases = append(cases, tc{opset: 23, x: sx, s: ir.TensorF32(nil, 1), zp: ir.NewTensor(dt, nil), attrs: []*onnxpb.AttributeProto{optest.Int("saturate", sat)}})
		}
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q := &qmodel{op: "QuantizeLinear", opset: c.opset, outs: 1, attrs: c.attrs, names: []string{"x", "s"},
				tensors: map[string]*ir.Tensor{"x": c.x, "s": c.s, "zp": c.zp}}
			if c.dequant {
				q.op = "DequantizeLinear"
			}
			if c.zp != nil {
				q.names = append(q.names, "zp")
			}
			q.check(t)
		})
	}
}

func TestDynamicQuantizeLinearSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i, x := range []*ir.Tensor{
		randTensor(r, ir.Float32, ir.Shape{5, 13}, -3, 7),
		randTensor(r, ir.Float32, ir.Shape{64}, 1, 7),
		randTensor(r, ir.Float32, ir.Shape{3, 7}, -9, -1),
		ir.NewTensor(ir.Float32, ir.Shape{37}),
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			q := &qmodel{op: "DynamicQuantizeLinear", opset: 11, outs: 3, names: []string{"x"}, tensors: map[string]*ir.Tensor{"x": x}}
			q.check(t)
		})
	}
}
