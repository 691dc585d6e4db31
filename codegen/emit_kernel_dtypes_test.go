package codegen

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mlc-compiler/mlc/internal/onnxcase"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/tune"
)

// TestEveryImportedOpHasKernel: every node of every ONNX backend case
// that imports, as the optimizer leaves it (at -O2 and -O0, SIMD on), has
// a kernel that takes its dtype (ir.DeclareKernelDTypes), so that what
// import and Infer accept, code generation emits.
func TestEveryImportedOpHasKernel(t *testing.T) {
	dirs := onnxcase.TestDirs(t)
	var mu sync.Mutex
	missing := map[string][]string{} // "op on dtype" -> cases
	imported := 0
	onnxcase.Each(dirs, runtime.GOMAXPROCS(0), func(dir string) struct{} {
		c, err := onnxcase.Load(dir)
		if err != nil || len(c.Sets) == 0 {
			return struct{}{}
		}
		for _, level := range []int{2, 0} {
			m, err := c.Import(0)
			if err != nil {
				return struct{}{} // refused at import: nothing to generate
			}
			if _, err := opt.Run(m.Graph, opt.Options{Level: level, SIMD: true, ConvWeights: ConvWeightsFunc(tune.V8), Workspace: Workspace}); err != nil {
				return struct{}{}
			}
			var bad []string
			m.Graph.Walk(func(n *ir.Node) {
				if _, view := n.Op.(ir.Aliaser); view {
					return
				}
				dt := "-"
				if x := n.In(0); x != nil {
					dt = x.Type.DType.String()
				}
				switch {
				case lookupKernel(n.Op) == nil:
					bad = append(bad, fmt.Sprintf("%s (%T, no kernel)", n.Op.OpType(), n.Op))
				case ir.KernelDTypes(n.Op) != nil && !slices.Contains(ir.KernelDTypes(n.Op), n.In(0).Type.DType):
					bad = append(bad, fmt.Sprintf("%s on %s", n.Op.OpType(), dt))
				}
			})
			mu.Lock()
			if level == 2 {
				imported++
			}
			for _, b := range bad {
				missing[b] = append(missing[b], onnxcase.Key(dir))
			}
			mu.Unlock()
		}
		return struct{}{}
	})
	if imported < 1000 {
		t.Errorf("only %d cases imported", imported)
	}
	var keys []string
	for k := range missing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%s: %s", k, strings.Join(missing[k], ", "))
	}
}

// TestKernelDTypesAgree: a declared op compiles on exactly the dtypes it
// declares (the kernel and the declaration cannot drift apart).
func TestKernelDTypesAgree(t *testing.T) {
	floats := []ir.DType{ir.Float16, ir.BFloat16, ir.Float32, ir.Float64}
	for _, op := range []ir.Op{&ir.Conv{Group: 1}, &ir.ConvTranspose{Group: 1}} {
		takes := ir.KernelDTypes(op)
		if takes == nil {
			t.Fatalf("%T declares no dtypes", op)
		}
		for _, dt := range floats {
			x := ir.NewInput("x", ir.Type{DType: dt, Shape: ir.Shape{1, 2, 4, 4}})
			w := ir.NewConst("w", ir.FromFloats(dt, ir.Shape{2, 2, 3, 3}, make([]float64, 36)))
			n := &ir.Node{Name: "n", Op: op, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{{Name: "y"}}}
			inferErr := ir.InferNode(n)
			declared := slices.Contains(takes, dt)
			if (inferErr == nil) != declared {
				t.Errorf("%s on %s: declared %v, InferNode: %v", op.OpType(), dt, declared, inferErr)
			}
			if inferErr != nil {
				// The kernel itself must refuse it too.
				n.Outputs[0].SetType(ir.Type{DType: dt, Shape: ir.Shape{1, 2, 2, 2}})
			}
			g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: n.Outputs, Nodes: []*ir.Node{n}}
			plan, err := memplan.PlanMemory(g, Workspace) // no passes: fold would refuse it again
			if err != nil {
				t.Fatalf("%s on %s: %v", op.OpType(), dt, err)
			}
			_, err = Build(g, plan, Options{SIMD: true, Tune: tune.V8})
			if (err == nil) != declared {
				t.Errorf("%s on %s: declared %v, code generation: %v", op.OpType(), dt, declared, err)
			}
		}
	}
	if got := ir.KernelDTypesByOp()["Conv"]; !slices.Equal(got, convDTypes) {
		t.Errorf("Conv listed by name with %v, want %v", got, convDTypes)
	}
}
