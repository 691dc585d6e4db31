package codegen_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/verify"
)

// Kernel checks for what the ONNX cases do not cover (other dtypes, wide
// filters, ...): a one-node graph is compiled with and without SIMD, run on
// wazero and compared with the reference interpreter.

// randTensor fills a tensor of dt with values in [lo, hi).
func randTensor(r *rand.Rand, dt ir.DType, shape ir.Shape, lo, hi float64) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	for i := range t.Len() {
		v := lo + (hi-lo)*r.Float64()
		if dt.IsInt() {
			t.SetInt(i, int64(v))
		} else {
			t.SetFloat(i, v)
		}
	}
	return t
}

// checkNode builds op over inputs (nil entries are omitted inputs; tensors
// named in consts become constants) and compares the module's outputs with
// ir.Run's.
func checkNode(t *testing.T, op ir.Op, nout int, inputs []*ir.Tensor, consts map[int]bool, rtol, atol float64) {
	t.Helper()
	for _, simd := range []bool{true, false} {
		g := &ir.Graph{}
		n := &ir.Node{Op: op}
		env := ir.Env{}
		feeds := map[string]*ir.Tensor{}
		for i, in := range inputs {
			if in == nil {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			name := fmt.Sprintf("in%d", i)
			if consts[i] {
				n.Inputs = append(n.Inputs, ir.NewConst(name, in))
				continue
			}
			v := ir.NewInput(name, in.Type)
			g.Inputs = append(g.Inputs, v)
			n.Inputs = append(n.Inputs, v)
			env[v] = in
			feeds[name] = in
		}
		for i := range nout {
			n.Outputs = append(n.Outputs, &ir.Value{Name: fmt.Sprintf("out%d", i)})
		}
		g.Nodes = []*ir.Node{n}
		g.Outputs = n.Outputs
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		want, err := ir.Run(g, env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := runGraph(t, g, 2, simd, feeds)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			r := &verify.OutputResult{}
			if msg := verify.Compare(got[fmt.Sprintf("out%d", i)], w, rtol, atol, r); msg != "" {
				t.Errorf("simd=%v output %d: %s", simd, i, msg)
			}
		}
	}
}

// runGraph plans and builds g at the optimization level, runs the module
// on the feeds and returns its outputs by name, or mlc_run's error.
func runGraph(t *testing.T, g *ir.Graph, level int, simd bool, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	t.Helper()
	plan, err := opt.Run(g, opt.Options{Level: level, Workspace: codegen.Workspace})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: simd})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ctx := context.Background()
	m, err := optest.Runtime(t).Load(ctx, wasm)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer m.Close(ctx)
	return hostir.Run(ctx, m, feeds)
}
