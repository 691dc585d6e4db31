package e2e_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Sequence and optional operators inside tensor graphs, beyond the ONNX
// cases: every position form (default, negative, at the end), stacking on a
// new last axis, every SplitToSequence form, run-time split sizes (only the
// length is usable; the sizes are checked at run time), optionals holding
// tensors, sequences or nothing, and the errors. The frontend resolves
// these ops into plain tensor nodes, so expected values are by hand.

func TestSequenceOps(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name:  proto.String("seq"),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2), optest.Value("y", ir.Float32, 2), optest.Value("z", ir.Float32, 2)},
		Node: []*onnxpb.NodeProto{
			optest.Const("p0", i64(0)), optest.Const("pm1", i64(-1)), optest.Const("p2", i64(2)), optest.Const("pm2", i64(-2)), optest.Const("pm3", i64(-3)),
			optest.Op("SequenceEmpty", nil, []string{"s0"}),
			optest.Op("SequenceInsert", []string{"s0", "x"}, []string{"s1"}),        // [x]
			optest.Op("SequenceInsert", []string{"s1", "y", "p0"}, []string{"s2"}),  // [y x]
			optest.Op("SequenceInsert", []string{"s2", "z", "pm1"}, []string{"s3"}), // [y z x]
			optest.Op("SequenceErase", []string{"s3"}, []string{"s4"}),              // [y z]
			optest.Op("SequenceInsert", []string{"s4", "x", "p2"}, []string{"s5"}),  // [y z x]
			optest.Op("Identity", []string{"s5"}, []string{"s5b"}),                  // sequences pass through
			optest.Op("ConcatFromSequence", []string{"s5b"}, []string{"cat"}, optest.Int("axis", 0)),
			optest.Op("ConcatFromSequence", []string{"s5"}, []string{"stack"}, optest.Int("axis", -1), optest.Int("new_axis", 1)),
			optest.Op("SequenceAt", []string{"s5", "pm2"}, []string{"at"}),
			optest.Op("SequenceLength", []string{"s5"}, []string{"len"}),
			optest.Op("SequenceErase", []string{"s5", "pm3"}, []string{"s6"}), // [z x]
			optest.Op("SequenceAt", []string{"s6", "p0"}, []string{"at0"}),
			optest.Op("SequenceConstruct", []string{"x", "y"}, []string{"s7"}),
			optest.Op("ConcatFromSequence", []string{"s7"}, []string{"stack0"}, optest.Int("axis", 0), optest.Int("new_axis", 1)),
		},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("cat", ir.Float32), optest.Unshaped("stack", ir.Float32), optest.Unshaped("at", ir.Float32), optest.Unshaped("len", ir.Int64), optest.Unshaped("at0", ir.Float32), optest.Unshaped("stack0", ir.Float32)},
	}
	out, err := runModel(t, optest.GraphModel(16, g), tensors{"x": vecF32(1, 2), "y": vecF32(3, 4), "z": vecF32(5, 6)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "cat", ir.Shape{6}, 3, 4, 5, 6, 1, 2)
	wantFloats(t, out, "stack", ir.Shape{2, 3}, 3, 5, 1, 4, 6, 2)
	wantFloats(t, out, "at", ir.Shape{2}, 5, 6)
	wantFloats(t, out, "len", ir.Shape{}, 3)
	wantFloats(t, out, "at0", ir.Shape{2}, 5, 6)
	wantFloats(t, out, "stack0", ir.Shape{2, 2}, 1, 2, 3, 4)
}

func TestSplitToSequence(t *testing.T) {
	x := ir.NewTensor(ir.Float32, ir.Shape{5, 2})
	for i := range 10 {
		x.SetFloat(i, float64(i))
	}
	g := &onnxpb.GraphProto{
		Name:  proto.String("split"),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 5, 2), optest.Value("sizes", ir.Int64, 2)},
		Node: []*onnxpb.NodeProto{
			optest.Const("two", i64(2)), optest.Const("p1", i64(1)), optest.Const("pm1", i64(-1)), optest.Const("sz", ir.TensorI64(nil, 1, 4)),
			optest.Op("SplitToSequence", []string{"x", "two"}, []string{"q"}), // [2 2 1] rows
			optest.Op("SequenceLength", []string{"q"}, []string{"qlen"}),
			optest.Op("SequenceAt", []string{"q", "pm1"}, []string{"qlast"}),
			optest.Op("SplitToSequence", []string{"x"}, []string{"k"}, optest.Int("axis", 1), optest.Int("keepdims", 0)),
			optest.Op("SequenceAt", []string{"k", "p1"}, []string{"k1"}),
			optest.Op("SplitToSequence", []string{"x", "sz"}, []string{"c"}, optest.Int("keepdims", 0)), // ignored with a split
			optest.Op("SequenceAt", []string{"c", "p1"}, []string{"c1"}),
			optest.Op("SplitToSequence", []string{"x", "sizes"}, []string{"r"}),
			optest.Op("SequenceLength", []string{"r"}, []string{"rlen"}),
		},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("qlen", ir.Int64), optest.Unshaped("qlast", ir.Float32), optest.Unshaped("k1", ir.Float32), optest.Unshaped("c1", ir.Float32), optest.Unshaped("rlen", ir.Int64)},
	}
	model := optest.GraphModel(12, g)
	out, err := runModel(t, model, tensors{"x": x, "sizes": ir.TensorI64(nil, 3, 2)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "qlen", ir.Shape{}, 3)
	wantFloats(t, out, "qlast", ir.Shape{1, 2}, 8, 9)
	wantFloats(t, out, "k1", ir.Shape{5}, 1, 3, 5, 7, 9)
	wantFloats(t, out, "c1", ir.Shape{4, 2}, 2, 3, 4, 5, 6, 7, 8, 9)
	wantFloats(t, out, "rlen", ir.Shape{}, 2)
	// Sizes that do not add up to 5, or are negative, fail the run.
	for _, bad := range [][]int64{{4, 2}, {-1, 6}, {0, 0}} {
		if _, err := runModel(t, model, tensors{"x": x, "sizes": ir.TensorI64(nil, bad...)}); err == nil || !strings.Contains(err.Error(), "mlc_run returned 3") {
			t.Errorf("sizes %v: got %v, want run error 3", bad, err)
		}
	}
}

func TestOptionalOps(t *testing.T) {
	floatType := optest.Unshaped("", ir.Float32).Type
	g := &onnxpb.GraphProto{
		Name:  proto.String("opt"),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2)},
		Node: []*onnxpb.NodeProto{
			optest.Const("p0", i64(0)),
			optest.Op("Optional", []string{"x"}, []string{"o"}),
			optest.Op("OptionalHasElement", []string{"o"}, []string{"has"}),
			optest.Op("OptionalGetElement", []string{"o"}, []string{"got"}),
			optest.Op("Optional", nil, []string{"e"}, &onnxpb.AttributeProto{Name: proto.String("type"), Type: onnxpb.AttributeProto_TYPE_PROTO.Enum(), Tp: floatType}),
			optest.Op("Identity", []string{"e"}, []string{"e2"}),
			optest.Op("OptionalHasElement", []string{"e2"}, []string{"hasE"}),
			optest.Op("SequenceConstruct", []string{"x", "x"}, []string{"s"}),
			optest.Op("Optional", []string{"s"}, []string{"os"}),
			optest.Op("OptionalGetElement", []string{"os"}, []string{"s2"}),
			optest.Op("SequenceAt", []string{"s2", "p0"}, []string{"fromSeq"}),
			optest.Op("OptionalHasElement", []string{"s2"}, []string{"hasSeq"}),
		},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("has", ir.Bool), optest.Unshaped("got", ir.Float32), optest.Unshaped("hasE", ir.Bool), optest.Unshaped("fromSeq", ir.Float32), optest.Unshaped("hasSeq", ir.Bool)},
	}
	out, err := runModel(t, optest.GraphModel(18, g), tensors{"x": vecF32(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "has", ir.Shape{}, 1)
	wantFloats(t, out, "got", ir.Shape{2}, 1, 2)
	wantFloats(t, out, "hasE", ir.Shape{}, 0)
	wantFloats(t, out, "fromSeq", ir.Shape{2}, 1, 2)
	wantFloats(t, out, "hasSeq", ir.Shape{}, 1)
}

// TestSequenceErrors: positions out of range are errors, positions or
// split sizes computed at run time and sequences where tensors are needed
// are unsupported, naming what is missing.
func TestSequenceErrors(t *testing.T) {
	in := []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2), optest.Value("n", ir.Int64, 1)}
	cases := []struct {
		name        string
		nodes       []*onnxpb.NodeProto
		out         string
		unsupported bool
		want        string
	}{
		{"position out of range", []*onnxpb.NodeProto{optest.Const("p", i64(2)),
			optest.Op("SequenceConstruct", []string{"x", "x"}, []string{"s"}), optest.Op("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", false, "out of range [-2, 1]"},
		{"missing position", []*onnxpb.NodeProto{optest.Op("SequenceConstruct", []string{"x"}, []string{"s"}),
			optest.Op("SequenceAt", []string{"s"}, []string{"y"})},
			"y", false, "SequenceAt-11 takes 2 inputs, the node has 1"}, // refused by the schema check before the importer
		{"insert past the end", []*onnxpb.NodeProto{optest.Const("p", i64(2)),
			optest.Op("SequenceConstruct", []string{"x"}, []string{"s"}), optest.Op("SequenceInsert", []string{"s", "x", "p"}, []string{"s2"}),
			optest.Op("SequenceLength", []string{"s2"}, []string{"y"})},
			"y", false, "out of range [-1, 1]"},
		{"run-time position", []*onnxpb.NodeProto{optest.Op("Squeeze", []string{"n"}, []string{"p"}),
			optest.Op("SequenceConstruct", []string{"x", "x"}, []string{"s"}), optest.Op("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", true, "SequenceAt's position"},
		{"run-time split, parts read", []*onnxpb.NodeProto{optest.Const("p", i64(0)),
			optest.Op("SplitToSequence", []string{"x", "n"}, []string{"s"}), optest.Op("SequenceAt", []string{"s", "p"}, []string{"y"})},
			"y", true, "SplitToSequence's split"},
		{"sequence into Add", []*onnxpb.NodeProto{optest.Op("SequenceConstruct", []string{"x"}, []string{"s"}),
			optest.Op("Add", []string{"s", "x"}, []string{"y"})},
			"y", true, `input "s" is a sequence`},
		{"sequence output", []*onnxpb.NodeProto{optest.Op("SequenceConstruct", []string{"x"}, []string{"y"})},
			"y", true, "outputs that are sequences"},
		{"mixed dtypes", []*onnxpb.NodeProto{optest.Op("SequenceConstruct", []string{"x", "n"}, []string{"s"}),
			optest.Op("SequenceLength", []string{"s"}, []string{"y"})},
			"y", false, "a sequence holds one dtype"},
		{"empty optional", []*onnxpb.NodeProto{optest.Op("Optional", nil, []string{"o"}, &onnxpb.AttributeProto{Name: proto.String("type"), Type: onnxpb.AttributeProto_TYPE_PROTO.Enum(), Tp: &onnxpb.TypeProto{}}),
			optest.Op("OptionalGetElement", []string{"o"}, []string{"y"})},
			"y", false, "empty optional"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &onnxpb.GraphProto{Name: proto.String("bad"), Input: in, Node: c.nodes, Output: []*onnxpb.ValueInfoProto{optest.Unshaped(c.out, ir.Float32)}}
			_, err := mlc.Compile(optest.GraphModel(18, g), "", mlc.DefaultOptions())
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
	g := &onnxpb.GraphProto{Name: proto.String("nc"), Input: in, Node: nodes, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)}}
	_, err := mlc.Compile(optest.GraphModel(18, g), "", mlc.DefaultOptions())
	var nc *ir.NotConstant
	if !errors.As(err, &nc) {
		t.Errorf("run-time position: %v is not a NotConstant error", err)
	}
}
