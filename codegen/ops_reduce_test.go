package codegen_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// runOneNode compiles a graph of one node over the given inputs (all run-time
// inputs) and returns its outputs as computed in Wasm.
func runOneNode(t *testing.T, op ir.Op, simd bool, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	out, err := runOneNodeErr(t, op, simd, inputs...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// runOneNodeErr is runOneNode returning mlc_run's error.
func runOneNodeErr(t *testing.T, op ir.Op, simd bool, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	t.Helper()
	g := &ir.Graph{}
	feeds := map[string]*ir.Tensor{}
	var ins []*ir.Value
	for i, x := range inputs {
		v := ir.NewInput(fmt.Sprintf("in%d", i), x.Type)
		g.Inputs = append(g.Inputs, v)
		ins = append(ins, v)
		feeds[v.Name] = x
	}
	types, err := op.Infer(ins)
	if err != nil {
		t.Fatalf("infer: %v", err)
	}
	n := &ir.Node{Op: op, Inputs: ins}
	for i, ty := range types {
		o := &ir.Value{Name: fmt.Sprintf("out%d", i)}
		o.SetType(ty)
		n.Outputs = append(n.Outputs, o)
		g.Outputs = append(g.Outputs, o)
	}
	g.Nodes = []*ir.Node{n}
	got, err := runGraph(t, g, 0, simd, feeds)
	if err != nil {
		return nil, err
	}
	out := make([]*ir.Tensor, len(g.Outputs))
	for i, o := range g.Outputs {
		out[i] = got[o.Name]
	}
	return out, nil
}

// TestReduceLayouts checks every kind on row and accumulate layouts, all
// axis subsets, several dtypes and both SIMD settings against the reference.
func TestReduceLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []ir.ReduceKind{ir.ReduceSum, ir.ReduceMean, ir.ReduceMax, ir.ReduceMin, ir.ReduceProd, ir.ReduceL1,
		ir.ReduceL2, ir.ReduceLogSum, ir.ReduceLogSumExp, ir.ReduceSumSquare}
	shapes := []ir.Shape{{9}, {3, 9}, {2, 1, 5, 8}, {4, 3, 6}, {2, 0, 3}, {3, 28}}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.Int32, ir.Int64, ir.Int8, ir.Uint8} {
		for _, kind := range kinds {
			if !dt.IsFloat() && kind == ir.ReduceLogSumExp {
				continue
			}
			for _, s := range shapes {
				for m := 0; m < 1<<len(s); m++ {
					op := &ir.Reduce{Kind: kind, Axes: ir.MaskAxes(uint32(m), len(s)), KeepDims: m%2 == 0}
					x := randTensor(r, dt, s, -3, 3)
					if kind == ir.ReduceLogSum || kind == ir.ReduceL2 {
						for i := range x.Len() { // positive sums for log and exact int sqrt checks
							if dt.IsFloat() {
								x.SetFloat(i, math.Abs(x.Float(i))+0.1)
							} else {
								x.SetInt(i, int64(r.IntN(3))+1)
							}
						}
					}
					want, err := op.Eval([]*ir.Tensor{x})
					if err != nil {
						t.Fatal(err)
					}
					for _, simd := range []bool{true, false} {
						got := runOneNode(t, op, simd, x)
						res := &verify.OutputResult{}
						rtol := 1e-5
						if dt == ir.Float16 {
							rtol = 2e-3
						}
						if msg := verify.Compare(got[0], want[0], rtol, 1e-6, res); msg != "" {
							t.Errorf("%s %s%v axes %v simd=%v: %s", kind, dt, s, op.Axes, simd, msg)
						}
					}
				}
			}
		}
	}
}

// TestReduceRuntimeAxes checks axes given at run time, including a set that
// disagrees with the compiled output shape.
func TestReduceRuntimeAxes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randTensor(r, ir.Float32, ir.Shape{3, 3, 1}, -2, 2)
	op := &ir.Reduce{Kind: ir.ReduceSum, KeepDims: false, OutShape: ir.Shape{3, 1}}
	for _, axes := range [][]int64{{0}, {1}, {-3}} {
		a := ir.TensorI64(ir.Shape{1}, axes...)
		want, err := op.Eval([]*ir.Tensor{x, a})
		if err != nil {
			t.Fatal(err)
		}
		got := runOneNode(t, op, true, x, a)
		if msg := verify.Compare(got[0], want[0], 1e-5, 1e-6, &verify.OutputResult{}); msg != "" {
			t.Errorf("axes %v: %s", axes, msg)
		}
	}
	for _, axes := range [][]int64{{2}, {3}, {-4}} {
		if _, err := runOneNodeErr(t, op, true, x, ir.TensorI64(ir.Shape{1}, axes...)); err == nil {
			t.Errorf("axes %v: no run-time error for axes that do not give shape %s", axes, op.OutShape)
		}
	}
}
