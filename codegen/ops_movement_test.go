package codegen_test

import (
	"fmt"
	"testing"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Kernel-versus-reference checks for what the ONNX backend cases of the
// movement ops leave out: sub-byte and other dtypes, negative pads, opset
// variants, run-time values where the cases use constants and the reverse.

type tensors = map[string]*ir.Tensor

func iota(dt ir.DType, shape ...int) *ir.Tensor {
	t := ir.NewTensor(dt, ir.Shape(shape))
	for i := range t.Len() {
		if dt.IsFloat() {
			t.SetFloat(i, float64(i%23)-7.5)
		} else {
			t.SetInt(i, int64(i*7+3))
		}
	}
	return t
}

func ints(vals ...int64) *ir.Tensor { return ir.TensorI64(nil, vals...) }

func node(op string, opset int, inputs []string, attrs ...*onnxpb.AttributeProto) optest.Node {
	return optest.Node{Op: op, Opset: opset, Inputs: inputs, Outputs: []string{"y"}, Attrs: attrs}
}

func TestViewsAllDTypes(t *testing.T) {
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.Int8, ir.Int64, ir.Bool, ir.Float8E5M2, ir.Int4, ir.Uint2, ir.Float4E2M1} {
		x := iota(dt, 3, 5, 4)
		t.Run(dt.String(), func(t *testing.T) {
			optest.Check(t, node("Slice", 13, []string{"x", "s", "e", "a", "st"}), tensors{"x": x},
				tensors{"s": ints(-1, 1), "e": ints(-100, 5), "a": ints(0, 2), "st": ints(-2, 2)})
			optest.Check(t, node("Expand", 13, []string{"x", "s"}), tensors{"x": iota(dt, 3, 1, 1)}, tensors{"s": ints(2, 3, 5, 3)})
			optest.Check(t, node("Tile", 13, []string{"x", "r"}), tensors{"x": x}, tensors{"r": ints(2, 1, 3)})
			optest.Check(t, node("Transpose", 13, []string{"x"}, optest.Ints("perm", 2, 0, 1)), tensors{"x": x}, nil)
			optest.Check(t, optest.Node{Op: "Split", Opset: 18, Inputs: []string{"x"}, Outputs: []string{"a", "", "c"},
				Attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1), optest.Int("num_outputs", 3)}}, tensors{"x": x}, nil)
			optest.Check(t, node("DepthToSpace", 13, []string{"x"}, optest.Int("blocksize", 2), optest.String("mode", "CRD")), tensors{"x": iota(dt, 2, 8, 3, 2)}, nil)
			optest.Check(t, node("SpaceToDepth", 13, []string{"x"}, optest.Int("blocksize", 2)), tensors{"x": iota(dt, 2, 3, 4, 6)}, nil)
			optest.Check(t, node("CenterCropPad", 18, []string{"x", "s"}, optest.Ints("axes", -1, 0)), tensors{"x": x}, tensors{"s": ints(7, 2)})
		})
	}
}

func TestPad(t *testing.T) {
	x := iota(ir.Float32, 3, 4, 5)
	for _, mode := range []string{"constant", "reflect", "edge", "wrap"} {
		for _, pads := range [][]int64{{1, 2, 3, 2, 1, 0}, {0, -1, 2, 1, 3, -2}, {-1, 0, -2, 0, 0, 12}, {2, 0, 0, 2, 0, 0}} {
			t.Run(fmt.Sprint(mode, pads), func(t *testing.T) {
				optest.Check(t, node("Pad", 19, []string{"x", "p"}, optest.String("mode", mode)), tensors{"x": x}, tensors{"p": ints(pads...)})
			})
		}
	}
	// run-time constant value, axes, and the attribute forms of Pad-1 and -2
	v := ir.TensorI64(ir.Shape{}, 42)
	optest.Check(t, node("Pad", 18, []string{"x", "p", "v", "a"}), tensors{"x": iota(ir.Int64, 3, 4), "v": v}, tensors{"p": ints(1, -1), "a": ints(-1)})
	optest.Check(t, node("Pad", 2, []string{"x"}, optest.Ints("pads", 0, 1, 2, 1), optest.Float("value", 2.5)), tensors{"x": iota(ir.Float16, 3, 4)}, nil)
	optest.Check(t, node("Pad", 1, []string{"x"}, optest.Ints("paddings", 0, 1, 2, 1), optest.String("mode", "reflect")), tensors{"x": iota(ir.Float32, 3, 4)}, nil)
	optest.Check(t, node("Pad", 13, []string{"x", "p"}), tensors{"x": iota(ir.Int4, 3, 3)}, tensors{"p": ints(1, 0, 0, 2)})
}

func TestWhere(t *testing.T) {
	c := ir.NewTensor(ir.Bool, ir.Shape{3, 1, 4})
	for i := range c.Data {
		c.Data[i] = byte(i % 3 % 2)
	}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.Int8, ir.Uint16, ir.Int64, ir.Bool, ir.Float8E4M3FN} {
		optest.Check(t, node("Where", 16, []string{"c", "x", "y0"}), tensors{"c": c, "x": iota(dt, 2, 1), "y0": iota(dt, 3, 2, 4)}, nil)
	}
	// float32 rows of four lanes: every mix of contiguous and broadcast
	// operands, with scalar tails.
	c2 := ir.NewTensor(ir.Bool, ir.Shape{3, 1, 11})
	for i := range c2.Data {
		c2.Data[i] = byte(i * 5 % 7 % 2)
	}
	one := ir.NewTensor(ir.Bool, ir.Shape{1})
	one.Data[0] = 1
	for _, cond := range []*ir.Tensor{c2, one} {
		for _, xs := range []ir.Shape{{3, 2, 11}, {1}, {2, 1}} {
			optest.Check(t, node("Where", 16, []string{"c", "x", "y0"}), tensors{"c": cond, "x": iota(ir.Float32, xs...), "y0": iota(ir.Float32, 2, 11)}, nil)
		}
	}
}

func TestTrilu(t *testing.T) {
	for _, k := range []int64{0, 2, -1, -100, 1 << 62, -(1 << 62)} {
		for _, upper := range []int64{0, 1} {
			optest.Check(t, node("Trilu", 14, []string{"x", "k"}, optest.Int("upper", upper)), tensors{"x": iota(ir.Float32, 2, 3, 5), "k": ir.TensorI64(ir.Shape{}, k)}, nil)
		}
	}
	optest.Check(t, node("Trilu", 14, []string{"x"}, optest.Int("upper", 0)), tensors{"x": iota(ir.Int16, 5, 3)}, nil)
}

func TestRange(t *testing.T) {
	// Large enough not to fold: the kernel computes the values.
	for _, c := range []struct {
		dt                  ir.DType
		start, limit, delta float64
		opset               int
		stash               int64
	}{
		{ir.Float32, 0.1, 30000.3, 0.7, 11, 1},
		{ir.Float64, -5, 1e5, 0.3, 11, 1},
		{ir.Int32, 100000, -100000, -3, 11, 1},
		{ir.Int64, -7, 100000, 5, 11, 1},
		{ir.Int16, -30000, 30000, 1, 11, 1},
		{ir.Float16, -4, 2000, 0.03125, 27, 1},
		{ir.Float16, -4, 2000, 0.03125, 27, 11},
		{ir.Float16, -4, 2000, 0.03125, 11, 1},
		{ir.BFloat16, 3, 1000, 0.015625, 27, 1},
	} {
		s, l, d := ir.FromFloats(c.dt, ir.Shape{}, []float64{c.start}), ir.FromFloats(c.dt, ir.Shape{}, []float64{c.limit}), ir.FromFloats(c.dt, ir.Shape{}, []float64{c.delta})
		var attrs []*onnxpb.AttributeProto
		if c.opset >= 27 {
			attrs = append(attrs, optest.Int("stash_type", c.stash))
		}
		n := optest.Node{Op: "Range", Opset: c.opset, Inputs: []string{"s", "l", "d"}, Outputs: []string{"y"}, Attrs: attrs}
		optest.Check(t, n, nil, tensors{"s": s, "l": l, "d": d})
	}
}

func TestOneHot(t *testing.T) {
	idx := ir.TensorF32(ir.Shape{2, 3}, 0, 2.7, -1, 5, -4, 1)
	vals := ir.TensorF32(ir.Shape{2}, -1, 3)
	for _, opset := range []int{9, 11} {
		for _, axis := range []int64{0, 1, -1} {
			optest.Check(t, node("OneHot", opset, []string{"i", "d", "v"}, optest.Int("axis", axis)), tensors{"i": idx, "v": vals}, tensors{"d": ir.TensorF32(ir.Shape{}, 4)})
		}
	}
	i64 := ir.TensorI64(ir.Shape{4}, 3, -3, 7, 0)
	optest.Check(t, node("OneHot", 11, []string{"i", "d", "v"}), tensors{"i": i64}, tensors{"d": ints(3), "v": ir.TensorI64(nil, 5, 9)})
}

func TestEyeLikeReverseSequence(t *testing.T) {
	for _, k := range []int64{0, 2, -1, 7} {
		for _, dt := range []int64{1, 7, 9, 10, 11} {
			optest.Check(t, node("EyeLike", 22, []string{"x"}, optest.Int("k", k), optest.Int("dtype", dt)), tensors{"x": iota(ir.Int32, 4, 5)}, nil)
		}
	}
	lens := ir.TensorI64(ir.Shape{3}, 4, 0, 2)
	optest.Check(t, node("ReverseSequence", 10, []string{"x", "l"}, optest.Int("batch_axis", 0), optest.Int("time_axis", 1)), tensors{"x": iota(ir.Float32, 3, 4, 2), "l": lens}, nil)
	optest.Check(t, node("ReverseSequence", 10, []string{"x", "l"}), tensors{"x": iota(ir.Int8, 4, 3), "l": lens}, nil)
	if msg := optest.Run(node("ReverseSequence", 10, []string{"x", "l"}), tensors{"x": iota(ir.Int8, 4, 3), "l": ir.TensorI64(ir.Shape{3}, 5, 0, 1)}, nil); msg == "" {
		t.Errorf("a sequence length beyond the time steps did not fail")
	}
}

// TestOldOpsets covers the attribute and input forms of early opsets that
// no backend case uses.
func TestOldOpsets(t *testing.T) {
	x := iota(ir.Float32, 4, 6)
	optest.Check(t, node("Cast", 1, []string{"x"}, optest.String("to", "FLOAT16")), tensors{"x": x}, nil)
	optest.Check(t, optest.Node{Op: "Split", Opset: 1, Inputs: []string{"x", "s"}, Outputs: []string{"a", "b"},
		Attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)}}, tensors{"x": x}, tensors{"s": ints(2, 4)})
	optest.Check(t, optest.Node{Op: "Split", Opset: 2, Inputs: []string{"x"}, Outputs: []string{"a", "b", "c"},
		Attrs: []*onnxpb.AttributeProto{optest.Int("axis", 0), optest.Ints("split", 1, 1, 2)}}, tensors{"x": x}, nil)
	optest.Check(t, node("Tile", 1, []string{"x", "n", "a"}), tensors{"x": x}, tensors{"n": ir.TensorI64(ir.Shape{}, 3), "a": ir.TensorI64(ir.Shape{}, -1)})
	optest.Check(t, node("Slice", 1, []string{"x"}, optest.Ints("starts", 1, -3), optest.Ints("ends", 100, -1), optest.Ints("axes", 0, 1)), tensors{"x": x}, nil)
	optest.Check(t, node("DepthToSpace", 1, []string{"x"}, optest.Int("blocksize", 2)), tensors{"x": iota(ir.Float32, 1, 8, 2, 3)}, nil)
	optest.Check(t, node("EyeLike", 9, []string{"x"}), tensors{"x": iota(ir.Float64, 3, 2)}, nil)
}
