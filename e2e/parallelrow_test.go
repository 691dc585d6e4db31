package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestParallelRowCopy checks a Slice whose output is one contiguous run of
// its input (the first channels of a map), copied by a flat loop cut into
// blocks across two threads (parallelRow): its rows are one memory.copy
// each, which does not advance the loop's pointers, so every block must
// take its own from its index. Before, each thread's span redid its first
// block and left the others unwritten (zeros from element 4096 on).
func TestParallelRowCopy(t *testing.T) {
	wz, _ := threadRunners(t)
	rng := rand.New(rand.NewSource(5))
	for _, c := range []struct {
		hw          int
		parallelAll bool
	}{{128, true}, {512, false}, {131, true}} {
		t.Run(fmt.Sprintf("%dx%d_all%v", c.hw, c.hw, c.parallelAll), func(t *testing.T) {
			g := &onnxpb.GraphProto{
				Node: []*onnxpb.NodeProto{
					optest.Const("s0", ir.TensorI64(ir.Shape{1}, 0)), optest.Const("s1", ir.TensorI64(ir.Shape{1}, 4)), optest.Const("s2", ir.TensorI64(ir.Shape{1}, 1)),
					optest.Op("Slice", []string{"x", "s0", "s1", "s2"}, []string{"y"}),
				},
				Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 8, c.hw, c.hw)},
				Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)},
			}
			model := optest.GraphModel(13, g)
			x := randTensor(rng, ir.Float32, 2, 1, 8, c.hw, c.hw)
			want := x.Data[:len(x.Data)/2]
			for _, threads := range []int{1, 2} {
				o := mlc.DefaultOptions()
				o.Threads, o.ParallelAll = threads, threads > 1 && c.parallelAll
				res, err := mlc.Compile(model, "", o)
				if err != nil {
					t.Fatal(err)
				}
				out, err := wz.Run(context.Background(), res.Wasm, []map[string]*ir.Tensor{{"x": x}})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out[0]["y"].Data, want) {
					t.Errorf("%d threads: the slice is not the input's first channels", threads)
				}
			}
		})
	}
}
