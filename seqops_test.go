package mlc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Sequence and optional operators inside tensor graphs, beyond the ONNX
// cases: every position form (default, negative, at the end), stacking on a
// new last axis, every SplitToSequence form, run-time split sizes (only the
// length is usable; the sizes are checked at run time), optionals holding
// tensors, sequences or nothing, and the errors. The frontend resolves
// these ops into plain tensor nodes, so expected values are by hand.

func seqF32(vals ...float32) *ir.Tensor { return ir.TensorF32(ir.Shape{len(vals)}, vals...) }

func TestSequenceOps(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name:  cfPtr("seq"),
		Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 2), cfVI("y", onnxFloat, 2), cfVI("z", onnxFloat, 2)},
		Node: []*onnxpb.NodeProto{
			cfConst("p0", i64(0)), cfConst("pm1", i64(-1)), cfConst("p2", i64(2)), cfConst("pm2", i64(-2)), cfConst("pm3", i64(-3)),
			cfNode("SequenceEmpty", nil, []string{"s0"}),
			cfNode("SequenceInsert", []string{"s0", "x"}, []string{"s1"}),        // [x]
			cfNode("SequenceInsert", []string{"s1", "y", "p0"}, []string{"s2"}),  // [y x]
			cfNode("SequenceInsert", []string{"s2", "z", "pm1"}, []string{"s3"}), // [y z x]
			cfNode("SequenceErase", []string{"s3"}, []string{"s4"}),              // [y z]
			cfNode("SequenceInsert", []string{"s4", "x", "p2"}, []string{"s5"}),  // [y z x]
			cfNode("Identity", []string{"s5"}, []string{"s5b"}),                  // sequences pass through
			cfNode("ConcatFromSequence", []string{"s5b"}, []string{"cat"}, cfInt("axis", 0)),
			cfNode("ConcatFromSequence", []string{"s5"}, []string{"stack"}, cfInt("axis", -1), cfInt("new_axis", 1)),
			cfNode("SequenceAt", []string{"s5", "pm2"}, []string{"at"}),
			cfNode("SequenceLength", []string{"s5"}, []string{"len"}),
			cfNode("SequenceErase", []string{"s5", "pm3"}, []string{"s6"}), // [z x]
			cfNode("SequenceAt", []string{"s6", "p0"}, []string{"at0"}),
			cfNode("SequenceConstruct", []string{"x", "y"}, []string{"s7"}),
			cfNode("ConcatFromSequence", []string{"s7"}, []string{"stack0"}, cfInt("axis", 0), cfInt("new_axis", 1)),
		},
		Output: []*onnxpb.ValueInfoProto{cfVI("cat", onnxFloat), cfVI("stack", onnxFloat), cfVI("at", onnxFloat), cfVI("len", onnxInt64), cfVI("at0", onnxFloat), cfVI("stack0", onnxFloat)},
	}
	out, err := cfRun(t, cfModel(16, g), map[string]*ir.Tensor{"x": seqF32(1, 2), "y": seqF32(3, 4), "z": seqF32(5, 6)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "cat", ir.Shape{6}, 3, 4, 5, 6, 1, 2)
	cfWant(t, out, "stack", ir.Shape{2, 3}, 3, 5, 1, 4, 6, 2)
	cfWant(t, out, "at", ir.Shape{2}, 5, 6)
	cfWant(t, out, "len", ir.Shape{}, 3)
	cfWant(t, out, "at0", ir.Shape{2}, 5, 6)
	cfWant(t, out, "stack0", ir.Shape{2, 2}, 1, 2, 3, 4)
}

func TestSplitToSequence(t *testing.T) {
	x := ir.NewTensor(ir.Float32, ir.Shape{5, 2})
	for i := range 10 {
		x.SetFloat(i, float64(i))
	}
	g := &onnxpb.GraphProto{
		Name:  cfPtr("split"),
		Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 5, 2), cfVI("sizes", onnxInt64, 2)},
		Node: []*onnxpb.NodeProto{
			cfConst("two", i64(2)), cfConst("p1", i64(1)), cfConst("pm1", i64(-1)), cfConst("sz", ir.TensorI64(nil, 1, 4)),
			cfNode("SplitToSequence", []string{"x", "two"}, []string{"q"}), // [2 2 1] rows
			cfNode("SequenceLength", []string{"q"}, []string{"qlen"}),
			cfNode("SequenceAt", []string{"q", "pm1"}, []string{"qlast"}),
			cfNode("SplitToSequence", []string{"x"}, []string{"k"}, cfInt("axis", 1), cfInt("keepdims", 0)),
			cfNode("SequenceAt", []string{"k", "p1"}, []string{"k1"}),
			cfNode("SplitToSequence", []string{"x", "sz"}, []string{"c"}, cfInt("keepdims", 0)), // ignored with a split
			cfNode("SequenceAt", []string{"c", "p1"}, []string{"c1"}),
			cfNode("SplitToSequence", []string{"x", "sizes"}, []string{"r"}),
			cfNode("SequenceLength", []string{"r"}, []string{"rlen"}),
		},
		Output: []*onnxpb.ValueInfoProto{cfVI("qlen", onnxInt64), cfVI("qlast", onnxFloat), cfVI("k1", onnxFloat), cfVI("c1", onnxFloat), cfVI("rlen", onnxInt64)},
	}
	model := cfModel(12, g)
	out, err := cfRun(t, model, map[string]*ir.Tensor{"x": x, "sizes": ir.TensorI64(nil, 3, 2)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "qlen", ir.Shape{}, 3)
	cfWant(t, out, "qlast", ir.Shape{1, 2}, 8, 9)
	cfWant(t, out, "k1", ir.Shape{5}, 1, 3, 5, 7, 9)
	cfWant(t, out, "c1", ir.Shape{4, 2}, 2, 3, 4, 5, 6, 7, 8, 9)
	cfWant(t, out, "rlen", ir.Shape{}, 2)
	// Sizes that do not add up to 5, or are negative, fail the run.
	for _, bad := range [][]int64{{4, 2}, {-1, 6}, {0, 0}} {
		if _, err := cfRun(t, model, map[string]*ir.Tensor{"x": x, "sizes": ir.TensorI64(nil, bad...)}); err == nil || !strings.Contains(err.Error(), "mlc_run returned 3") {
			t.Errorf("sizes %v: got %v, want run error 3", bad, err)
		}
	}
}

func TestOptionalOps(t *testing.T) {
	floatType := &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: cfPtr(int32(onnxFloat))}}}
	g := &onnxpb.GraphProto{
		Name:  cfPtr("opt"),
		Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 2)},
		Node: []*onnxpb.NodeProto{
			cfConst("p0", i64(0)),
			cfNode("Optional", []string{"x"}, []string{"o"}),
			cfNode("OptionalHasElement", []string{"o"}, []string{"has"}),
			cfNode("OptionalGetElement", []string{"o"}, []string{"got"}),
			cfNode("Optional", nil, []string{"e"}, &onnxpb.AttributeProto{Name: cfPtr("type"), Type: onnxpb.AttributeProto_TYPE_PROTO.Enum(), Tp: floatType}),
			cfNode("Identity", []string{"e"}, []string{"e2"}),
			cfNode("OptionalHasElement", []string{"e2"}, []string{"hasE"}),
			cfNode("SequenceConstruct", []string{"x", "x"}, []string{"s"}),
			cfNode("Optional", []string{"s"}, []string{"os"}),
			cfNode("OptionalGetElement", []string{"os"}, []string{"s2"}),
			cfNode("SequenceAt", []string{"s2", "p0"}, []string{"fromSeq"}),
			cfNode("OptionalHasElement", []string{"s2"}, []string{"hasSeq"}),
		},
		Output: []*onnxpb.ValueInfoProto{cfVI("has", onnxBool), cfVI("got", onnxFloat), cfVI("hasE", onnxBool), cfVI("fromSeq", onnxFloat), cfVI("hasSeq", onnxBool)},
	}
	out, err := cfRun(t, cfModel(18, g), map[string]*ir.Tensor{"x": seqF32(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "has", ir.Shape{}, 1)
	cfWant(t, out, "got", ir.Shape{2}, 1, 2)
	cfWant(t, out, "hasE", ir.Shape{}, 0)
	cfWant(t, out, "fromSeq", ir.Shape{2}, 1, 2)
	cfWant(t, out, "hasSeq", ir.Shape{}, 1)
}

// TestSequenceErrors: positions out of range are errors, positions or
// split sizes computed at run time and sequences where tensors are needed
// are unsupported, naming what is missing.
func TestSequenceErrors(t *testing.T) {
	in := []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 2), cfVI("n", onnxInt64, 1)}
	cases := []struct {
		name        string
		nodes       []*onnxpb.NodeProto
		out         string
		unsupported bool
		want        string
	}{
		{"position out of range", []*onnxpb.NodeProto{cfConst("p", i64(2)),
			cfNode("SequenceConstruct", []string{"x", "x"}, []string{"s"}), cfNode("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", false, "out of range [-2, 1]"},
		{"missing position", []*onnxpb.NodeProto{cfNode("SequenceConstruct", []string{"x"}, []string{"s"}),
			cfNode("SequenceAt", []string{"s"}, []string{"y"})},
			"y", false, "position is missing"},
		{"insert past the end", []*onnxpb.NodeProto{cfConst("p", i64(2)),
			cfNode("SequenceConstruct", []string{"x"}, []string{"s"}), cfNode("SequenceInsert", []string{"s", "x", "p"}, []string{"s2"}),
			cfNode("SequenceLength", []string{"s2"}, []string{"y"})},
			"y", false, "out of range [-1, 1]"},
		{"run-time position", []*onnxpb.NodeProto{cfNode("Squeeze", []string{"n"}, []string{"p"}),
			cfNode("SequenceConstruct", []string{"x", "x"}, []string{"s"}), cfNode("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", true, "SequenceAt's position"},
		{"run-time split, parts read", []*onnxpb.NodeProto{cfConst("p", i64(0)),
			cfNode("SplitToSequence", []string{"x", "n"}, []string{"s"}), cfNode("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", true, "SplitToSequence's split"},
		{"sequence into Add", []*onnxpb.NodeProto{cfNode("SequenceConstruct", []string{"x"}, []string{"s"}),
			cfNode("Add", []string{"s", "x"}, []string{"y"})},
			"y", true, `input "s" is a sequence`},
		{"sequence output", []*onnxpb.NodeProto{cfNode("SequenceConstruct", []string{"x"}, []string{"y"})},
			"y", true, "outputs that are sequences"},
		{"mixed dtypes", []*onnxpb.NodeProto{cfNode("SequenceConstruct", []string{"x", "n"}, []string{"s"}),
			cfNode("SequenceLength", []string{"s"}, []string{"y"})},
			"y", false, "a sequence holds one dtype"},
		{"empty optional", []*onnxpb.NodeProto{cfNode("Optional", nil, []string{"o"}, &onnxpb.AttributeProto{Name: cfPtr("type"), Type: onnxpb.AttributeProto_TYPE_PROTO.Enum(), Tp: &onnxpb.TypeProto{}}),
			cfNode("OptionalGetElement", []string{"o"}, []string{"y"})},
			"y", false, "empty optional"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &onnxpb.GraphProto{Name: cfPtr("bad"), Input: in, Node: c.nodes, Output: []*onnxpb.ValueInfoProto{cfVI(c.out, onnxFloat)}}
			_, err := mlc.Compile(cfModel(18, g), "", mlc.DefaultOptions())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if ir.IsUnsupported(err) != c.unsupported {
				t.Errorf("unsupported = %v, want %v: %v", ir.IsUnsupported(err), c.unsupported, err)
			}
		})
	}
	// A run-time position is a NotConstant error, which verify can
	// specialize on the input's value.
	var nodes []*onnxpb.NodeProto
	for _, c := range cases {
		if c.name == "run-time position" {
			nodes = c.nodes
		}
	}
	g := &onnxpb.GraphProto{Name: cfPtr("nc"), Input: in, Node: nodes, Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxFloat)}}
	_, err := mlc.Compile(cfModel(18, g), "", mlc.DefaultOptions())
	var nc *ir.NotConstant
	if !errors.As(err, &nc) {
		t.Errorf("run-time position: %v is not a NotConstant error", err)
	}
}
