package mlc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Control-flow variants the ONNX backend cases do not cover: Loop with a
// condition, a run-time trip count, permuted carried values; Scan over
// other axes and in reverse; opset 8's batched Scan; If inside a Loop and
// with a constant condition. Expected values are computed by hand.

const (
	onnxFloat = 1
	onnxInt64 = 7
	onnxBool  = 9
)

func cfPtr[T any](v T) *T { return &v }

func cfNode(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: cfPtr(op), Input: in, Output: out, Attribute: attrs}
}

func cfGraphAttr(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: cfPtr(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

func cfInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: cfPtr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func cfInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: cfPtr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: cfPtr(v)}
}

// cfVI declares a value; dims nil leaves the shape out (subgraph inputs
// typed by their op).
func cfVI(name string, elem int32, dims ...int) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: cfPtr(elem)}
	if dims != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: cfPtr(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func cfScalar() []int { return []int{} }

func cfConst(name string, t *ir.Tensor) *onnxpb.NodeProto {
	return cfNode("Constant", nil, []string{name}, &onnxpb.AttributeProto{Name: cfPtr("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: frontend.TensorToProto(name, t)})
}

func cfModel(opset int64, g *onnxpb.GraphProto) []byte {
	m := &onnxpb.ModelProto{IrVersion: cfPtr(int64(8)), OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: cfPtr(""), Version: cfPtr(opset)}}, Graph: g}
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// cfRun compiles the model and runs it on wazero; it also checks the
// reference interpreter gives the same outputs.
func cfRun(t *testing.T, model []byte, in map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	t.Helper()
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		return nil, err
	}
	testenv.Validate(t, res.Wasm)
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(ctx, in)
	if err != nil {
		return nil, err
	}
	imp, err := frontend.Import(model, "", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := ir.Env{}
	for _, v := range imp.Graph.Inputs {
		env[v] = in[v.Name]
	}
	want, err := ir.Run(imp.Graph, env)
	if err != nil {
		t.Fatalf("interpreter: %v", err)
	}
	for i, v := range imp.Graph.Outputs {
		if !slices.Equal(want[i].Data, out[v.Name].Data) {
			t.Errorf("output %s: Wasm %v, interpreter %v", v.Name, out[v.Name].Floats(), want[i].Floats())
		}
	}
	return out, nil
}

func cfWant(t *testing.T, out map[string]*ir.Tensor, name string, shape ir.Shape, vals ...float64) {
	t.Helper()
	got := out[name]
	if got == nil {
		t.Fatalf("no output %s", name)
	}
	if !got.Shape.Equal(shape) || !slices.Equal(got.Floats(), vals) {
		t.Errorf("%s = %v%v, want %v%v", name, got.Shape, got.Floats(), shape, vals)
	}
}

func i64(v ...int64) *ir.Tensor { return ir.TensorI64(ir.Shape{}, v...) }

func boolScalar(b bool) *ir.Tensor {
	t := ir.NewTensor(ir.Bool, ir.Shape{})
	if b {
		t.Data[0] = 1
	}
	return t
}

// sumLoop: carried s += i, scan output s; M and cond as given.
func sumLoop(m, cond string, declared int, withCond bool) []byte {
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Add", []string{"s_in", "i"}, []string{"s_out"}),
			cfNode("Identity", []string{"s_out"}, []string{"scan"}),
			cfNode("Less", []string{"s_out", "limit"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("s_in", onnxInt64)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("s_out", onnxInt64), cfVI("scan", onnxInt64)},
	}
	if !withCond {
		body.Node[2] = cfNode("Identity", []string{"c_in"}, []string{"c_out"})
	}
	scanVI := cfVI("ys", onnxInt64)
	if declared >= 0 {
		scanVI = cfVI("ys", onnxInt64, declared)
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("sum_loop"),
		Node: []*onnxpb.NodeProto{
			cfNode("Loop", []string{m, cond, "s0"}, []string{"s", "ys"}, cfGraphAttr("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("s0", onnxInt64, cfScalar()...), cfVI("limit", onnxInt64, cfScalar()...)},
		Output: []*onnxpb.ValueInfoProto{cfVI("s", onnxInt64, cfScalar()...), scanVI},
	}
	if m != "" {
		g.Input = append(g.Input, cfVI(m, onnxInt64, cfScalar()...))
	}
	if cond != "" {
		g.Input = append(g.Input, cfVI(cond, onnxBool, cfScalar()...))
	}
	return cfModel(13, g)
}

func TestLoopRunTimeTripCountDeclaredScan(t *testing.T) {
	model := sumLoop("M", "", 4, false)
	out, err := cfRun(t, model, map[string]*ir.Tensor{"s0": i64(10), "limit": i64(0), "M": i64(4)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "s", ir.Shape{}, 16)
	cfWant(t, out, "ys", ir.Shape{4}, 10, 11, 13, 16)
	// Another trip count than the declared scan length is a run-time error.
	_, err = cfRun(t, model, map[string]*ir.Tensor{"s0": i64(10), "limit": i64(0), "M": i64(3)})
	if want := fmt.Sprintf("returned %d", abi.ErrShapeMismatch); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("trip count 3 with declared length 4: got %v, want run error %d", err, abi.ErrShapeMismatch)
	}
}

func TestLoopScanNeedsStaticLength(t *testing.T) {
	_, err := cfRun(t, sumLoop("M", "", -1, false), map[string]*ir.Tensor{"s0": i64(0), "limit": i64(0), "M": i64(4)})
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "trip count is only known at run time") {
		t.Fatalf("got %v, want an unsupported error about the run-time trip count", err)
	}
}

func TestLoopWhileCondition(t *testing.T) {
	// No scan output is used... but the body has one: declare its length,
	// and run until s >= limit with a trip count bound.
	model := sumLoop("M", "c", 3, true)
	out, err := cfRun(t, model, map[string]*ir.Tensor{"s0": i64(0), "limit": i64(3), "M": i64(10), "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	// s: 0+0=0 (<3 go), 0+1=1 (go), 1+2=3 (stop): 3 iterations.
	cfWant(t, out, "s", ir.Shape{}, 3)
	cfWant(t, out, "ys", ir.Shape{3}, 0, 1, 3)
	// A false initial condition runs no iteration: the scan is then short.
	if _, err := cfRun(t, model, map[string]*ir.Tensor{"s0": i64(5), "limit": i64(3), "M": i64(10), "c": boolScalar(false)}); err == nil {
		t.Fatal("zero iterations with a declared scan length of 3: want a run error")
	}
}

// TestLoopPermutedCarriedValues runs (a, b) -> (b, a+b) while a+b < limit,
// with no trip count: the body returns one carried input as another
// carried output, so the update goes through staging.
func TestLoopPermutedCarriedValues(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Add", []string{"a_in", "b_in"}, []string{"sum"}),
			cfNode("Identity", []string{"b_in"}, []string{"a_out"}),
			cfNode("Less", []string{"sum", "limit"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("a_in", onnxInt64), cfVI("b_in", onnxInt64)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("a_out", onnxInt64), cfVI("sum", onnxInt64)},
	}
	g := &onnxpb.GraphProto{
		Name:   cfPtr("fib"),
		Node:   []*onnxpb.NodeProto{cfNode("Loop", []string{"", "c", "a0", "b0"}, []string{"a", "b"}, cfGraphAttr("body", body))},
		Input:  []*onnxpb.ValueInfoProto{cfVI("a0", onnxInt64, cfScalar()...), cfVI("b0", onnxInt64, cfScalar()...), cfVI("limit", onnxInt64, cfScalar()...), cfVI("c", onnxBool, cfScalar()...)},
		Output: []*onnxpb.ValueInfoProto{cfVI("a", onnxInt64, cfScalar()...), cfVI("b", onnxInt64, cfScalar()...)},
	}
	out, err := cfRun(t, cfModel(16, g), map[string]*ir.Tensor{"a0": i64(0), "b0": i64(1), "limit": i64(20), "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "a", ir.Shape{}, 13)
	cfWant(t, out, "b", ir.Shape{}, 21)
}

func TestLoopSwapStaging(t *testing.T) {
	// (a, b) -> (b, a) each iteration, trip count from a constant: after
	// 3 swaps the values are exchanged; the scan output records a.
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Identity", []string{"c_in"}, []string{"c_out"}),
			cfNode("Identity", []string{"a_in"}, []string{"rec"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("a_in", onnxFloat), cfVI("b_in", onnxFloat)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("b_in", onnxFloat), cfVI("a_in", onnxFloat), cfVI("rec", onnxFloat)},
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("swap"),
		Node: []*onnxpb.NodeProto{
			cfConst("three", i64(3)),
			cfNode("Loop", []string{"three", "", "a0", "b0"}, []string{"a", "b", "recs"}, cfGraphAttr("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("a0", onnxFloat, 2), cfVI("b0", onnxFloat, 2)},
		Output: []*onnxpb.ValueInfoProto{cfVI("a", onnxFloat, 2), cfVI("b", onnxFloat, 2), cfVI("recs", onnxFloat, 3, 2)},
	}
	out, err := cfRun(t, cfModel(13, g), map[string]*ir.Tensor{"a0": ir.TensorF32(ir.Shape{2}, 1, 2), "b0": ir.TensorF32(ir.Shape{2}, 3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "a", ir.Shape{2}, 3, 4)
	cfWant(t, out, "b", ir.Shape{2}, 1, 2)
	cfWant(t, out, "recs", ir.Shape{3, 2}, 1, 2, 3, 4, 1, 2)
}

func TestLoopCarriedShapeChangeUnsupported(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Identity", []string{"c_in"}, []string{"c_out"}),
			cfNode("Concat", []string{"x_in", "x_in"}, []string{"x_out"}, cfInt("axis", 0)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("x_in", onnxFloat)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("x_out", onnxFloat)},
	}
	g := &onnxpb.GraphProto{
		Name:   cfPtr("grow"),
		Node:   []*onnxpb.NodeProto{cfNode("Loop", []string{"M", "", "x0"}, []string{"x"}, cfGraphAttr("body", body))},
		Input:  []*onnxpb.ValueInfoProto{cfVI("x0", onnxFloat, 2), cfVI("M", onnxInt64, cfScalar()...)},
		Output: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat)},
	}
	_, err := cfRun(t, cfModel(13, g), nil)
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "changes shape") {
		t.Fatalf("got %v, want unsupported: carried value changes shape", err)
	}
}

// scanModel: cumulative sum along axis 1 of x [2,3] (scanned in reverse),
// scan output stacked along axis 1 prepending, so it reads forward again.
func TestScanAxesAndDirections(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Add", []string{"s_in", "x_t"}, []string{"s_out"}),
			cfNode("Identity", []string{"s_out"}, []string{"y_t"}),
			cfNode("Identity", []string{"s_out"}, []string{"z_t"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("s_in", onnxFloat), cfVI("x_t", onnxFloat)},
		Output: []*onnxpb.ValueInfoProto{cfVI("s_out", onnxFloat), cfVI("y_t", onnxFloat), cfVI("z_t", onnxFloat)},
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("scan"),
		Node: []*onnxpb.NodeProto{cfNode("Scan", []string{"s0", "x"}, []string{"s", "y", "z"}, cfGraphAttr("body", body),
			cfInt("num_scan_inputs", 1), cfInts("scan_input_axes", -1), cfInts("scan_input_directions", 1),
			cfInts("scan_output_axes", 1, 0), cfInts("scan_output_directions", 1, 0))},
		Input:  []*onnxpb.ValueInfoProto{cfVI("s0", onnxFloat, 2), cfVI("x", onnxFloat, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{cfVI("s", onnxFloat, 2), cfVI("y", onnxFloat, 2, 3), cfVI("z", onnxFloat, 3, 2)},
	}
	out, err := cfRun(t, cfModel(11, g), map[string]*ir.Tensor{
		"s0": ir.TensorF32(ir.Shape{2}, 0, 100),
		"x":  ir.TensorF32(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reverse scan over columns: states after t=0,1,2: [3,106], [5,111], [6,115].
	cfWant(t, out, "s", ir.Shape{2}, 6, 115)
	// y prepends along axis 1: column 2 gets t=0, column 0 gets t=2.
	cfWant(t, out, "y", ir.Shape{2, 3}, 6, 5, 3, 115, 111, 106)
	// z appends along axis 0.
	cfWant(t, out, "z", ir.Shape{3, 2}, 3, 106, 5, 111, 6, 115)
}

func TestScan8Batched(t *testing.T) {
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Mul", []string{"p_in", "x_t"}, []string{"p_out"}),
			cfNode("Identity", []string{"p_out"}, []string{"y_t"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("p_in", onnxFloat, 1), cfVI("x_t", onnxFloat, 1)},
		Output: []*onnxpb.ValueInfoProto{cfVI("p_out", onnxFloat, 1), cfVI("y_t", onnxFloat, 1)},
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("scan8"),
		Node: []*onnxpb.NodeProto{cfNode("Scan", []string{"", "p0", "x"}, []string{"p", "y"}, cfGraphAttr("body", body),
			cfInt("num_scan_inputs", 1), cfInts("directions", 1))},
		Input:  []*onnxpb.ValueInfoProto{cfVI("p0", onnxFloat, 2, 1), cfVI("x", onnxFloat, 2, 3, 1)},
		Output: []*onnxpb.ValueInfoProto{cfVI("p", onnxFloat, 2, 1), cfVI("y", onnxFloat, 2, 3, 1)},
	}
	out, err := cfRun(t, cfModel(8, g), map[string]*ir.Tensor{
		"p0": ir.TensorF32(ir.Shape{2, 1}, 1, 10),
		"x":  ir.TensorF32(ir.Shape{2, 3, 1}, 1, 2, 3, 4, 5, 6),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "p", ir.Shape{2, 1}, 6, 1200)
	cfWant(t, out, "y", ir.Shape{2, 3, 1}, 3, 6, 6, 60, 300, 1200)
}

// TestIfInsideLoop selects per iteration between doubling and adding a
// captured outer value, on the parity of the iteration number.
func TestIfInsideLoop(t *testing.T) {
	then := &onnxpb.GraphProto{Name: cfPtr("then"), Node: []*onnxpb.NodeProto{cfNode("Add", []string{"v_in", "v_in"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{cfVI("t_out", onnxFloat)}}
	els := &onnxpb.GraphProto{Name: cfPtr("else"), Node: []*onnxpb.NodeProto{cfNode("Add", []string{"v_in", "bias"}, []string{"e_out"})}, Output: []*onnxpb.ValueInfoProto{cfVI("e_out", onnxFloat)}}
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfConst("two", i64(2)),
			cfConst("zero", i64(0)),
			cfNode("Mod", []string{"i", "two"}, []string{"par"}),
			cfNode("Equal", []string{"par", "zero"}, []string{"even"}),
			cfNode("If", []string{"even"}, []string{"v_out"}, cfGraphAttr("then_branch", then), cfGraphAttr("else_branch", els)),
			cfNode("Identity", []string{"c_in"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("v_in", onnxFloat)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("v_out", onnxFloat), cfVI("v_out", onnxFloat)},
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("if_loop"),
		Node: []*onnxpb.NodeProto{
			cfConst("four", i64(4)),
			cfNode("Loop", []string{"four", "", "v0"}, []string{"v", "vs"}, cfGraphAttr("body", body)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("v0", onnxFloat, 2), cfVI("bias", onnxFloat, 2)},
		Output: []*onnxpb.ValueInfoProto{cfVI("v", onnxFloat, 2), cfVI("vs", onnxFloat, 4, 2)},
	}
	out, err := cfRun(t, cfModel(13, g), map[string]*ir.Tensor{"v0": ir.TensorF32(ir.Shape{2}, 1, -1), "bias": ir.TensorF32(ir.Shape{2}, 10, 20)})
	if err != nil {
		t.Fatal(err)
	}
	// i=0 double: (2,-2); i=1 add: (12,18); i=2 double: (24,36); i=3 add: (34,56).
	cfWant(t, out, "v", ir.Shape{2}, 34, 56)
	cfWant(t, out, "vs", ir.Shape{4, 2}, 2, -2, 12, 18, 24, 36, 34, 56)
}

// TestIfConstantCondition: branches of different shapes are fine when the
// condition folds (here from the input's rank).
func TestIfConstantCondition(t *testing.T) {
	then := &onnxpb.GraphProto{Name: cfPtr("then"), Node: []*onnxpb.NodeProto{cfNode("Add", []string{"x", "x"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{cfVI("t_out", onnxFloat)}}
	els := &onnxpb.GraphProto{Name: cfPtr("else"), Node: []*onnxpb.NodeProto{cfNode("Concat", []string{"x", "x"}, []string{"e_out"}, cfInt("axis", 0))}, Output: []*onnxpb.ValueInfoProto{cfVI("e_out", onnxFloat)}}
	g := &onnxpb.GraphProto{
		Name: cfPtr("if_const"),
		Node: []*onnxpb.NodeProto{
			cfNode("Size", []string{"x"}, []string{"n"}),
			cfConst("three", i64(3)),
			cfNode("Equal", []string{"n", "three"}, []string{"is3"}),
			cfNode("If", []string{"is3"}, []string{"y"}, cfGraphAttr("then_branch", then), cfGraphAttr("else_branch", els)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 3)},
		Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxFloat)},
	}
	out, err := cfRun(t, cfModel(13, g), map[string]*ir.Tensor{"x": ir.TensorF32(ir.Shape{3}, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "y", ir.Shape{3}, 2, 4, 6)

	// With a run-time condition the shapes must agree.
	g.Node = g.Node[3:]
	g.Input = append(g.Input, cfVI("is3", onnxBool, cfScalar()...))
	_, err = cfRun(t, cfModel(13, g), nil)
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "then_branch") {
		t.Fatalf("got %v, want unsupported: branches of different shapes", err)
	}
}

// TestLoopConstantNotFoldedWhenLarge: a Loop over constants whose scan
// output exceeds ir.FoldLimit stays a node and runs in Wasm.
func TestLoopConstantNotFoldedWhenLarge(t *testing.T) {
	const trips = 20000
	body := &onnxpb.GraphProto{
		Name: cfPtr("body"),
		Node: []*onnxpb.NodeProto{
			cfNode("Add", []string{"s_in", "i"}, []string{"s_out"}),
			cfNode("Identity", []string{"c_in"}, []string{"c_out"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("i", onnxInt64, cfScalar()...), cfVI("c_in", onnxBool, cfScalar()...), cfVI("s_in", onnxInt64)},
		Output: []*onnxpb.ValueInfoProto{cfVI("c_out", onnxBool), cfVI("s_out", onnxInt64), cfVI("s_out", onnxInt64)},
	}
	g := &onnxpb.GraphProto{
		Name: cfPtr("big"),
		Node: []*onnxpb.NodeProto{
			cfConst("M", i64(trips)),
			cfConst("s0", i64(0)),
			cfNode("Loop", []string{"M", "", "s0"}, []string{"s", "ys"}, cfGraphAttr("body", body)),
			cfNode("Add", []string{"ys", "x"}, []string{"y"}),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("x", onnxInt64, cfScalar()...)},
		Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxInt64, trips)},
	}
	model := cfModel(13, g)
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Graph.Nodes, func(n *ir.Node) bool { return n.Op.OpType() == "Loop" }) {
		t.Fatalf("the Loop was folded into a %d-byte constant", trips*8)
	}
	out, err := cfRun(t, model, map[string]*ir.Tensor{"x": i64(1)})
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
	then := &onnxpb.GraphProto{Name: cfPtr("then"), Node: []*onnxpb.NodeProto{cfNode("Add", []string{"x", "x"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{cfVI("t_out", onnxFloat)}}
	els := &onnxpb.GraphProto{Name: cfPtr("else"), Node: []*onnxpb.NodeProto{
		cfConst("shape22", ir.TensorI64(ir.Shape{2}, 2, 2)),
		cfNode("Reshape", []string{"x", "shape22"}, []string{"e_out"}),
	}, Output: []*onnxpb.ValueInfoProto{cfVI("e_out", onnxFloat)}}
	g := &onnxpb.GraphProto{
		Name: cfPtr("if_untyped_branch"),
		Node: []*onnxpb.NodeProto{
			cfNode("Size", []string{"x"}, []string{"n"}),
			cfConst("three", i64(3)),
			cfNode("Equal", []string{"n", "three"}, []string{"is3"}),
			cfNode("If", []string{"is3"}, []string{"y"}, cfGraphAttr("then_branch", then), cfGraphAttr("else_branch", els)),
		},
		Input:  []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 3)},
		Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxFloat, 3)},
	}
	out, err := cfRun(t, cfModel(13, g), map[string]*ir.Tensor{"x": ir.TensorF32(ir.Shape{3}, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "y", ir.Shape{3}, 2, 4, 6)
}
