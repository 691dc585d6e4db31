package e2e_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Control-flow variants the ONNX backend cases do not cover: Loop with a
// condition, a run-time trip count, permuted carried values; Scan over
// other axes and in reverse; opset 8's batched Scan; If inside a Loop and
// with a constant condition. Expected values are computed by hand.

// sumLoop: carried s += i, scan output s; M and cond as given.
func sumLoop(m, cond string, declared int, withCond bool) []byte {
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Add", []string{"s_in", "i"}, []string{"s_out"}),
			optest.Op("Identity", []string{"s_out"}, []string{"scan"}),
			optest.Op("Less", []string{"s_out", "limit"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("s_in", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("s_out", ir.Int64), optest.Unshaped("scan", ir.Int64)},
	}
	if !withCond {
		body.Node[2] = optest.Op("Identity", []string{"c_in"}, []string{"c_out"})
	}
	scanVI := optest.Unshaped("ys", ir.Int64)
	if declared >= 0 {
		scanVI = optest.Value("ys", ir.Int64, declared)
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("sum_loop"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Loop", []string{m, cond, "s0"}, []string{"s", "ys"}, optest.Graph("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("s0", ir.Int64), optest.Value("limit", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("s", ir.Int64), scanVI},
	}
	if m != "" {
		g.Input = append(g.Input, optest.Value(m, ir.Int64))
	}
	if cond != "" {
		g.Input = append(g.Input, optest.Value(cond, ir.Bool))
	}
	return optest.GraphModel(13, g)
}

func TestLoopRunTimeTripCountDeclaredScan(t *testing.T) {
	model := sumLoop("M", "", 4, false)
	out, err := runModel(t, model, tensors{"s0": i64(10), "limit": i64(0), "M": i64(4)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "s", ir.Shape{}, 16)
	wantFloats(t, out, "ys", ir.Shape{4}, 10, 11, 13, 16)
	// Another trip count than the declared scan length is a run-time error.
	_, err = runModel(t, model, tensors{"s0": i64(10), "limit": i64(0), "M": i64(3)})
	if want := fmt.Sprintf("returned %d", abi.ErrShapeMismatch); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("trip count 3 with declared length 4: got %v, want run error %d", err, abi.ErrShapeMismatch)
	}
}

func TestLoopScanNeedsStaticLength(t *testing.T) {
	_, err := runModel(t, sumLoop("M", "", -1, false), tensors{"s0": i64(0), "limit": i64(0), "M": i64(4)})
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "trip count is only known at run time") {
		t.Fatalf("got %v, want an unsupported error about the run-time trip count", err)
	}
}

func TestLoopWhileCondition(t *testing.T) {
	// No scan output is used... but the body has one: declare its length,
	// and run until s >= limit with a trip count bound.
	model := sumLoop("M", "c", 3, true)
	out, err := runModel(t, model, tensors{"s0": i64(0), "limit": i64(3), "M": i64(10), "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	// s: 0+0=0 (<3 go), 0+1=1 (go), 1+2=3 (stop): 3 iterations.
	wantFloats(t, out, "s", ir.Shape{}, 3)
	wantFloats(t, out, "ys", ir.Shape{3}, 0, 1, 3)
	// A false initial condition runs no iteration: the scan is then short.
	if _, err := runModel(t, model, tensors{"s0": i64(5), "limit": i64(3), "M": i64(10), "c": boolScalar(false)}); err == nil {
		t.Fatal("zero iterations with a declared scan length of 3: want a run error")
	}
}

// TestLoopPermutedCarriedValues runs (a, b) -> (b, a+b) while a+b < limit,
// with no trip count: the body returns one carried input as another
// carried output, so the update goes through staging.
func TestLoopPermutedCarriedValues(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Add", []string{"a_in", "b_in"}, []string{"sum"}),
			optest.Op("Identity", []string{"b_in"}, []string{"a_out"}),
			optest.Op("Less", []string{"sum", "limit"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("a_in", ir.Int64), optest.Unshaped("b_in", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("a_out", ir.Int64), optest.Unshaped("sum", ir.Int64)},
	}
	g := &onnxpb.GraphProto{
		Name:   proto.String("fib"),
		Node:   []*onnxpb.NodeProto{optest.Op("Loop", []string{"", "c", "a0", "b0"}, []string{"a", "b"}, optest.Graph("body", body))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("a0", ir.Int64), optest.Value("b0", ir.Int64), optest.Value("limit", ir.Int64), optest.Value("c", ir.Bool)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("a", ir.Int64), optest.Value("b", ir.Int64)},
	}
	out, err := runModel(t, optest.GraphModel(16, g), tensors{"a0": i64(0), "b0": i64(1), "limit": i64(20), "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "a", ir.Shape{}, 13)
	wantFloats(t, out, "b", ir.Shape{}, 21)
}

func TestLoopSwapStaging(t *testing.T) {
	// (a, b) -> (b, a) each iteration, trip count from a constant: after
	// 3 swaps the values are exchanged; the scan output records a.
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Identity", []string{"c_in"}, []string{"c_out"}),
			optest.Op("Identity", []string{"a_in"}, []string{"rec"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("a_in", ir.Float32), optest.Unshaped("b_in", ir.Float32)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("b_in", ir.Float32), optest.Unshaped("a_in", ir.Float32), optest.Unshaped("rec", ir.Float32)},
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("swap"),
		Node: []*onnxpb.NodeProto{
			optest.Const("three", i64(3)),
			optest.Op("Loop", []string{"three", "", "a0", "b0"}, []string{"a", "b", "recs"}, optest.Graph("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("a0", ir.Float32, 2), optest.Value("b0", ir.Float32, 2)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("a", ir.Float32, 2), optest.Value("b", ir.Float32, 2), optest.Value("recs", ir.Float32, 3, 2)},
	}
	out, err := runModel(t, optest.GraphModel(13, g), tensors{"a0": ir.TensorF32(ir.Shape{2}, 1, 2), "b0": ir.TensorF32(ir.Shape{2}, 3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "a", ir.Shape{2}, 3, 4)
	wantFloats(t, out, "b", ir.Shape{2}, 1, 2)
	wantFloats(t, out, "recs", ir.Shape{3, 2}, 1, 2, 3, 4, 1, 2)
}

func TestLoopCarriedShapeChangeUnsupported(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Identity", []string{"c_in"}, []string{"c_out"}),
			optest.Op("Concat", []string{"x_in", "x_in"}, []string{"x_out"}, optest.Int("axis", 0)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("x_in", ir.Float32)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("x_out", ir.Float32)},
	}
	g := &onnxpb.GraphProto{
		Name:   proto.String("grow"),
		Node:   []*onnxpb.NodeProto{optest.Op("Loop", []string{"M", "", "x0"}, []string{"x"}, optest.Graph("body", body))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x0", ir.Float32, 2), optest.Value("M", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("x", ir.Float32)},
	}
	_, err := runModel(t, optest.GraphModel(13, g), nil)
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "changes shape") {
		t.Fatalf("got %v, want unsupported: carried value changes shape", err)
	}
}

// TestScanAxesAndDirections: a cumulative sum along axis 1 of x [2,3],
// scanned in reverse; y stacks the sums along axis 1 prepending, so it
// reads forward again, z along axis 0.
func TestScanAxesAndDirections(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Add", []string{"s_in", "x_t"}, []string{"s_out"}),
			optest.Op("Identity", []string{"s_out"}, []string{"y_t"}),
			optest.Op("Identity", []string{"s_out"}, []string{"z_t"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Unshaped("s_in", ir.Float32), optest.Unshaped("x_t", ir.Float32)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("s_out", ir.Float32), optest.Unshaped("y_t", ir.Float32), optest.Unshaped("z_t", ir.Float32)},
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("scan"),
		Node: []*onnxpb.NodeProto{optest.Op("Scan", []string{"s0", "x"}, []string{"s", "y", "z"}, optest.Graph("body", body),
			optest.Int("num_scan_inputs", 1), optest.Ints("scan_input_axes", -1), optest.Ints("scan_input_directions", 1),
			optest.Ints("scan_output_axes", 1, 0), optest.Ints("scan_output_directions", 1, 0))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("s0", ir.Float32, 2), optest.Value("x", ir.Float32, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("s", ir.Float32, 2), optest.Value("y", ir.Float32, 2, 3), optest.Value("z", ir.Float32, 3, 2)},
	}
	out, err := runModel(t, optest.GraphModel(11, g), tensors{
		"s0": ir.TensorF32(ir.Shape{2}, 0, 100),
		"x":  ir.TensorF32(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reverse scan over columns: states after t=0,1,2: [3,106], [5,111], [6,115].
	wantFloats(t, out, "s", ir.Shape{2}, 6, 115)
	// y prepends along axis 1: column 2 gets t=0, column 0 gets t=2.
	wantFloats(t, out, "y", ir.Shape{2, 3}, 6, 5, 3, 115, 111, 106)
	// z appends along axis 0.
	wantFloats(t, out, "z", ir.Shape{3, 2}, 3, 106, 5, 111, 6, 115)
}

func TestScan8Batched(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Mul", []string{"p_in", "x_t"}, []string{"p_out"}),
			optest.Op("Identity", []string{"p_out"}, []string{"y_t"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("p_in", ir.Float32, 1), optest.Value("x_t", ir.Float32, 1)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("p_out", ir.Float32, 1), optest.Value("y_t", ir.Float32, 1)},
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("scan8"),
		Node: []*onnxpb.NodeProto{optest.Op("Scan", []string{"", "p0", "x"}, []string{"p", "y"}, optest.Graph("body", body),
			optest.Int("num_scan_inputs", 1), optest.Ints("directions", 1))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("p0", ir.Float32, 2, 1), optest.Value("x", ir.Float32, 2, 3, 1)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("p", ir.Float32, 2, 1), optest.Value("y", ir.Float32, 2, 3, 1)},
	}
	out, err := runModel(t, optest.GraphModel(8, g), tensors{
		"p0": ir.TensorF32(ir.Shape{2, 1}, 1, 10),
		"x":  ir.TensorF32(ir.Shape{2, 3, 1}, 1, 2, 3, 4, 5, 6),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "p", ir.Shape{2, 1}, 6, 1200)
	wantFloats(t, out, "y", ir.Shape{2, 3, 1}, 3, 6, 6, 60, 300, 1200)
}

// TestIfInsideLoop selects per iteration between doubling and adding a
// captured outer value, on the parity of the iteration number.
func TestIfInsideLoop(t *testing.T) {
	then := &onnxpb.GraphProto{Name: proto.String("then"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"v_in", "v_in"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("t_out", ir.Float32)}}
	els := &onnxpb.GraphProto{Name: proto.String("else"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"v_in", "bias"}, []string{"e_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("e_out", ir.Float32)}}
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Const("two", i64(2)),
			optest.Const("zero", i64(0)),
			optest.Op("Mod", []string{"i", "two"}, []string{"par"}),
			optest.Op("Equal", []string{"par", "zero"}, []string{"even"}),
			optest.Op("If", []string{"even"}, []string{"v_out"}, optest.Graph("then_branch", then), optest.Graph("else_branch", els)),
			optest.Op("Identity", []string{"c_in"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("v_in", ir.Float32)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("v_out", ir.Float32), optest.Unshaped("v_out", ir.Float32)},
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("if_loop"),
		Node: []*onnxpb.NodeProto{
			optest.Const("four", i64(4)),
			optest.Op("Loop", []string{"four", "", "v0"}, []string{"v", "vs"}, optest.Graph("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("v0", ir.Float32, 2), optest.Value("bias", ir.Float32, 2)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("v", ir.Float32, 2), optest.Value("vs", ir.Float32, 4, 2)},
	}
	out, err := runModel(t, optest.GraphModel(13, g), tensors{"v0": ir.TensorF32(ir.Shape{2}, 1, -1), "bias": ir.TensorF32(ir.Shape{2}, 10, 20)})
	if err != nil {
		t.Fatal(err)
	}
	// i=0 double: (2,-2); i=1 add: (12,18); i=2 double: (24,36); i=3 add: (34,56).
	wantFloats(t, out, "v", ir.Shape{2}, 34, 56)
	wantFloats(t, out, "vs", ir.Shape{4, 2}, 2, -2, 12, 18, 24, 36, 34, 56)
}

// ifSizeIs3 is y = If(Size(x) == 3) over an x of 3 elements: the
// condition folds once x's shape is known.
func ifSizeIs3(then, els *onnxpb.GraphProto, y *onnxpb.ValueInfoProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{
		Name: proto.String("if_size"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Size", []string{"x"}, []string{"n"}),
			optest.Const("three", i64(3)),
			optest.Op("Equal", []string{"n", "three"}, []string{"is3"}),
			optest.Op("If", []string{"is3"}, []string{"y"}, optest.Graph("then_branch", then), optest.Graph("else_branch", els)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 3)},
		Output: []*onnxpb.ValueInfoProto{y},
	}
}

// TestIfConstantCondition: branches of different shapes are fine when the
// condition folds (here from the input's rank).
func TestIfConstantCondition(t *testing.T) {
	then := &onnxpb.GraphProto{Name: proto.String("then"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"x", "x"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("t_out", ir.Float32)}}
	els := &onnxpb.GraphProto{Name: proto.String("else"), Node: []*onnxpb.NodeProto{optest.Op("Concat", []string{"x", "x"}, []string{"e_out"}, optest.Int("axis", 0))}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("e_out", ir.Float32)}}
	g := ifSizeIs3(then, els, optest.Unshaped("y", ir.Float32))
	out, err := runModel(t, optest.GraphModel(13, g), tensors{"x": ir.TensorF32(ir.Shape{3}, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{3}, 2, 4, 6)

	// With a run-time condition the shapes must agree.
	g.Node = g.Node[3:]
	g.Input = append(g.Input, optest.Value("is3", ir.Bool))
	_, err = runModel(t, optest.GraphModel(13, g), nil)
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "then_branch") {
		t.Fatalf("got %v, want unsupported: branches of different shapes", err)
	}
}

// TestLoopConstantNotFoldedWhenLarge: a Loop over constants whose scan
// output exceeds ir.FoldLimit stays a node and runs in Wasm.
func TestLoopConstantNotFoldedWhenLarge(t *testing.T) {
	const trips = 20000
	body := &onnxpb.GraphProto{
		Name: proto.String("body"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Add", []string{"s_in", "i"}, []string{"s_out"}),
			optest.Op("Identity", []string{"c_in"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("s_in", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("s_out", ir.Int64), optest.Unshaped("s_out", ir.Int64)},
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("big"),
		Node: []*onnxpb.NodeProto{
			optest.Const("M", i64(trips)),
			optest.Const("s0", i64(0)),
			optest.Op("Loop", []string{"M", "", "s0"}, []string{"s", "ys"}, optest.Graph("body", body)),
			optest.Op("Add", []string{"ys", "x"}, []string{"y"}),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Int64, trips)},
	}
	model := optest.GraphModel(13, g)
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Graph.Nodes, func(n *ir.Node) bool { return n.Op.OpType() == "Loop" }) {
		t.Fatalf("the Loop was folded into a %d-byte constant", trips*8)
	}
	out, err := runModel(t, model, tensors{"x": i64(1)})
	if err != nil {
		t.Fatal(err)
	}
	y := out["y"].I64()
	if y[0] != 1 || y[trips-1] != int64(trips)*(trips-1)/2+1 {
		t.Errorf("y[0] = %d, y[last] = %d", y[0], y[trips-1])
	}
}

// TestIfUntakenBranchDoesNotType: with a constant condition the other
// branch is not even imported (it reshapes 3 elements into 2x2 here).
func TestIfUntakenBranchDoesNotType(t *testing.T) {
	then := &onnxpb.GraphProto{Name: proto.String("then"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"x", "x"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("t_out", ir.Float32)}}
	els := &onnxpb.GraphProto{Name: proto.String("else"), Node: []*onnxpb.NodeProto{
		optest.Const("shape22", ir.TensorI64(ir.Shape{2}, 2, 2)),
		optest.Op("Reshape", []string{"x", "shape22"}, []string{"e_out"}),
	}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("e_out", ir.Float32)}}
	g := ifSizeIs3(then, els, optest.Value("y", ir.Float32, 3))
	out, err := runModel(t, optest.GraphModel(13, g), tensors{"x": ir.TensorF32(ir.Shape{3}, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{3}, 2, 4, 6)
}

// TestIfRunTimeConditionBranchDoesNotType: under a run-time condition, a
// branch that cannot run with the shapes it sees (any runtime would fail
// there, as Silero VAD's 8 kHz path does on a 16 kHz frame) is dropped:
// the module runs the other branch and fails the run, with its own error
// code, when the data selects the dropped one.
func TestIfRunTimeConditionBranchDoesNotType(t *testing.T) {
	then := &onnxpb.GraphProto{Name: proto.String("then"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"x", "x"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("t_out", ir.Float32)}}
	els := &onnxpb.GraphProto{Name: proto.String("else"), Node: []*onnxpb.NodeProto{
		optest.Const("shape22", ir.TensorI64(ir.Shape{2}, 2, 2)),
		optest.Op("Reshape", []string{"x", "shape22"}, []string{"e_out"}),
	}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("e_out", ir.Float32)}}
	g := &onnxpb.GraphProto{
		Name:   proto.String("if_runtime"),
		Node:   []*onnxpb.NodeProto{optest.Op("If", []string{"c"}, []string{"y"}, optest.Graph("then_branch", then), optest.Graph("else_branch", els))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 3), optest.Value("c", ir.Bool)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)},
	}
	model := optest.GraphModel(13, g)
	x := ir.TensorF32(ir.Shape{3}, 1, 2, 3)
	out, err := runModel(t, model, tensors{"x": x, "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{3}, 2, 4, 6)
	_, err = runModel(t, model, tensors{"x": x, "c": boolScalar(false)})
	if want := fmt.Sprintf("returned %d", abi.ErrBranchNotCompiled); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("condition false: got %v, want run error %d", err, abi.ErrBranchNotCompiled)
	}

	// Both branches failing is a compile error naming the first.
	g.Node[0] = optest.Op("If", []string{"c"}, []string{"y"}, optest.Graph("then_branch", els), optest.Graph("else_branch", els))
	if _, err := mlc.Compile(optest.GraphModel(13, g), "", mlc.DefaultOptions()); err == nil || !strings.Contains(err.Error(), "then_branch") {
		t.Fatalf("both branches fail: got %v, want an error in then_branch", err)
	}
}
