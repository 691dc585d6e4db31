package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// countLoop: s = s0 + 1 per iteration, M iterations (an input, or the
// constant m when m >= 0); inner > 0 nests a loop of inner iterations
// adding 1 each in the body instead.
func countLoop(m int64, inner int64) []byte {
	one := optest.Const("one", i64(1))
	body := &onnxpb.GraphProto{
		Name:   proto.String("body"),
		Node:   []*onnxpb.NodeProto{optest.Op("Add", []string{"s_in", "one"}, []string{"s_out"}), optest.Op("Identity", []string{"c_in"}, []string{"c_out"})},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("i", ir.Int64), optest.Value("c_in", ir.Bool), optest.Unshaped("s_in", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("c_out", ir.Bool), optest.Unshaped("s_out", ir.Int64)},
	}
	if inner > 0 {
		innerBody := &onnxpb.GraphProto{
			Name:   proto.String("inner"),
			Node:   []*onnxpb.NodeProto{optest.Op("Add", []string{"t_in", "one"}, []string{"t_out"}), optest.Op("Identity", []string{"d_in"}, []string{"d_out"})},
			Input:  []*onnxpb.ValueInfoProto{optest.Value("j", ir.Int64), optest.Value("d_in", ir.Bool), optest.Unshaped("t_in", ir.Int64)},
			Output: []*onnxpb.ValueInfoProto{optest.Unshaped("d_out", ir.Bool), optest.Unshaped("t_out", ir.Int64)},
		}
		body.Node = []*onnxpb.NodeProto{
			optest.Const("n_inner", i64(inner)),
			optest.Op("Loop", []string{"n_inner", "", "s_in"}, []string{"s_out"}, optest.Graph("body", innerBody)),
			optest.Op("Identity", []string{"c_in"}, []string{"c_out"}),
		}
	}
	g := &onnxpb.GraphProto{
		Name:   proto.String("count"),
		Node:   []*onnxpb.NodeProto{one, optest.Op("Loop", []string{"M", "", "s0"}, []string{"s"}, optest.Graph("body", body))},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("s0", ir.Int64)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("s", ir.Int64)},
	}
	if m >= 0 {
		// Everything constant: only the fold budget keeps the compiler
		// from evaluating the loop.
		g.Node = append([]*onnxpb.NodeProto{optest.Const("M", i64(m)), optest.Const("s0", i64(0))}, g.Node...)
		g.Input = nil
	} else {
		g.Input = append(g.Input, optest.Value("M", ir.Int64))
	}
	return optest.GraphModel(13, g)
}

// runBounded compiles model with a Loop bound and runs it on wazero and,
// when there, Node; both must agree: the sum, or the Loop-limit status.
// With threads > 1 the module is threaded (every splittable loop split):
// the budget is a global of the instance that runs mlc_run, which workers
// never touch, and a second run on the same instance starts with the full
// budget again.
func runBounded(t *testing.T, model []byte, bound int64, feed tensors, threads int) (int64, error) {
	t.Helper()
	o := mlc.DefaultOptions()
	o.MaxLoopIterations = bound
	o.Threads, o.ParallelAll = threads, threads > 1
	res, err := mlc.Compile(model, "", o)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Validate(t, res.Wasm)
	if bound != 0 && !slices.Contains(res.Meta.Options, fmt.Sprintf("max-loop-iterations=%d", bound)) {
		t.Errorf("options %v do not record the bound", res.Meta.Options)
	}
	m := optest.Load(t, res.Wasm)
	out, err := hostir.Run(context.Background(), m, feed)
	var got int64
	if err == nil {
		got = out["s"].Int(0)
	}
	if out2, err2 := hostir.Run(context.Background(), m, feed); (err2 == nil) != (err == nil) || (err == nil && out2["s"].Int(0) != got) {
		t.Errorf("a second run on the same instance: %v, %v; the first: %d, %v", out2, err2, got, err)
	}
	testenv.Node(t)
	nr, nerr := verify.NewNodeRunner()
	if nerr != nil {
		t.Fatal(nerr)
	}
	defer nr.Close()
	nr.Threads = threads
	nout, nerr := nr.Run(context.Background(), res.Wasm, []map[string]*ir.Tensor{feed})
	switch {
	case (err == nil) != (nerr == nil):
		t.Errorf("wazero: %v; Node: %v", err, nerr)
	case err == nil && nout[0]["s"].Int(0) != got:
		t.Errorf("wazero gives %d, Node %d", got, nout[0]["s"].Int(0))
	case err != nil && !strings.Contains(nerr.Error(), fmt.Sprint(abi.ErrLoopLimit)):
		t.Errorf("Node fails with %v, want status %d", nerr, abi.ErrLoopLimit)
	}
	return got, err
}

// Issue 13: a Loop whose trip count comes from an input (10^12) hung the
// module. mlc_run now stops after --max-loop-iterations iterations of all
// Loops together and returns abi.ErrLoopLimit.
func TestLoopIterationBound(t *testing.T) {
	limit := fmt.Sprintf("returned %d", abi.ErrLoopLimit)
	feed := func(m int64) tensors { return tensors{"s0": i64(0), "M": i64(m)} }
	for _, tc := range []struct {
		name  string
		model []byte
		bound int64
		feed  tensors
		want  int64 // -1: the limit
	}{
		{"trip count 10^12 from an input", countLoop(-1, 0), 1000, feed(1e12), -1},
		{"trip count at the bound", countLoop(-1, 0), 1000, feed(1000), 1000},
		{"one past the bound", countLoop(-1, 0), 1000, feed(1001), -1},
		// 10 outer iterations of 100 inner ones: 1010 in all.
		{"nested loops within the bound", countLoop(-1, 100), 1010, feed(10), 1000},
		{"nested loops past the bound", countLoop(-1, 100), 1009, feed(10), -1},
		// A constant trip count of 10^12 is not folded at compile time
		// (it would hang the compiler) and stops at the bound.
		{"constant trip count 10^12", countLoop(1e12, 0), 1000, tensors{}, -1},
	} {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", tc.name, threads), func(t *testing.T) {
				got, err := runBounded(t, tc.model, tc.bound, tc.feed, threads)
				switch {
				case tc.want < 0 && (err == nil || !strings.Contains(err.Error(), limit)):
					t.Errorf("got %d, %v; want mlc_run to return %d", got, err, abi.ErrLoopLimit)
				case tc.want >= 0 && (err != nil || got != tc.want):
					t.Errorf("got %d, %v; want %d", got, err, tc.want)
				}
			})
		}
	}
	// The default bound is recorded nowhere (it is the default) and the
	// run error is documented in every module's metadata.
	res, err := mlc.Compile(countLoop(-1, 0), "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.RunErrors[fmt.Sprint(abi.ErrLoopLimit)] == "" {
		t.Errorf("run_errors %v lack the Loop limit", res.Meta.RunErrors)
	}
}
