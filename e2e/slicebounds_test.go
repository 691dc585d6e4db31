package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// Slice with starts and ends computed at run time, its output shape known
// from the model's declaration or from ends that are their starts plus a
// constant. For every bound value tried, the module must either agree with
// the reference interpreter bit for bit or, exactly when the bounds select
// another shape, fail the run with the shape-mismatch status.

// checkSliceRuns compiles model once and runs it on every feed.
func checkSliceRuns(t *testing.T, model []byte, feeds []tensors) {
	t.Helper()
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Validate(t, res.Wasm)
	m := optest.Load(t, res.Wasm)
	y := res.Meta.Outputs[0].Name
	ran, failed := 0, 0
	for _, feed := range feeds {
		want, wantErr := optest.Reference(model, feed)
		got, err := hostir.Run(context.Background(), m, feed)
		if wantErr != nil {
			failed++
			if err == nil || !strings.Contains(err.Error(), "mlc_run returned 3") {
				t.Errorf("%v: the interpreter fails (%v), the module gives %v", feedString(feed), wantErr, err)
			}
			continue
		}
		ran++
		if err != nil {
			t.Errorf("%v: %v", feedString(feed), err)
			continue
		}
		if msg := optest.Same(got[y], want[y]); msg != "" {
			t.Errorf("%v: module and interpreter differ: %s", feedString(feed), msg)
		}
	}
	if ran == 0 || failed == 0 {
		t.Errorf("%d runs succeed and %d fail: the bounds tried should give both", ran, failed)
	}
}

func feedString(feed tensors) string {
	var parts []string
	for _, name := range []string{"s", "e", "i"} {
		if t := feed[name]; t != nil {
			parts = append(parts, fmt.Sprintf("%s=%v", name, t.Floats()))
		}
	}
	return strings.Join(parts, " ")
}

func sliceX(dt ir.DType, shape ...int) *ir.Tensor {
	x := ir.NewTensor(dt, ir.Shape(shape))
	for i := range x.Len() {
		if dt.IsFloat() {
			x.SetFloat(i, float64(i)-3.5)
		} else {
			x.SetInt(i, int64(i*5%7))
		}
	}
	return x
}

func boundsOf(dt ir.DType, v ...int64) *ir.Tensor {
	t := ir.NewTensor(dt, ir.Shape{len(v)})
	for i, x := range v {
		t.SetInt(i, x)
	}
	return t
}

// TestSliceDeclaredShape: starts and ends are graph inputs, the output's
// shape is declared; two axes, one stepping backwards; several dtypes
// (sub-byte included) and both bound dtypes.
func TestSliceDeclaredShape(t *testing.T) {
	for _, c := range []struct {
		dt     ir.DType
		bounds ir.DType
	}{{ir.Float32, ir.Int64}, {ir.Int8, ir.Int32}, {ir.Float64, ir.Int64}, {ir.Int4, ir.Int64}, {ir.Bool, ir.Int32}} {
		t.Run(c.dt.String(), func(t *testing.T) {
			g := &onnxpb.GraphProto{
				Name:  proto.String("slice"),
				Input: []*onnxpb.ValueInfoProto{optest.Value("x", c.dt, 4, 7, 3), optest.Value("s", c.bounds, 2), optest.Value("e", c.bounds, 2)},
				Node: []*onnxpb.NodeProto{
					optest.Const("axes", ir.TensorI64(nil, 1, 0)), optest.Const("steps", ir.TensorI64(nil, 2, -1)),
					optest.Op("Slice", []string{"x", "s", "e", "axes", "steps"}, []string{"y"}),
				},
				Output: []*onnxpb.ValueInfoProto{optest.Value("y", c.dt, 2, 3, 3)},
			}
			x := sliceX(c.dt, 4, 7, 3)
			var feeds []tensors
			for s1 := int64(-6); s1 <= 8; s1++ { // axis 1, step 2: 3 elements
				for _, s0 := range []int64{3, 1, -1, 9} { // axis 0, step -1: 2 elements
					feeds = append(feeds, tensors{"x": x, "s": boundsOf(c.bounds, s1, s0), "e": boundsOf(c.bounds, s1+5, s0-2)})
				}
			}
			feeds = append(feeds, tensors{"x": x, "s": boundsOf(c.bounds, 1, 1<<30), "e": boundsOf(c.bounds, 1<<30, -(1 << 30))})
			checkSliceRuns(t, optest.GraphModel(13, g), feeds)
		})
	}
}

// TestSliceShiftedBounds: start = i + 1 and end = i + 4 from one run-time
// scalar i, with no declared shape (the model states only the rank), as a
// loop body slicing at its iteration number does.
func TestSliceShiftedBounds(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name:  proto.String("shift"),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 3, 9), optest.Value("i", ir.Int64)},
		Node: []*onnxpb.NodeProto{
			optest.Const("one", i64(1)), optest.Const("four", ir.TensorI64(nil, 4)), optest.Const("ax", ir.TensorI64(nil, 1)),
			optest.Op("Add", []string{"i", "one"}, []string{"i1"}),
			optest.Op("Unsqueeze", []string{"i1"}, []string{"s"}, optest.Ints("axes", 0)),
			optest.Op("Unsqueeze", []string{"i"}, []string{"iv"}, optest.Ints("axes", 0)),
			optest.Op("Add", []string{"iv", "four"}, []string{"e"}),
			optest.Op("Slice", []string{"x", "s", "e", "ax"}, []string{"y"}),
		},
		Output: []*onnxpb.ValueInfoProto{optest.Untyped("y")},
	}
	x := sliceX(ir.Float32, 3, 9)
	var feeds []tensors
	for i := int64(-12); i <= 10; i++ {
		feeds = append(feeds, tensors{"x": x, "i": i64(i)})
	}
	checkSliceRuns(t, optest.GraphModel(12, g), feeds)
	res, err := mlc.Compile(optest.GraphModel(12, g), "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Meta.Outputs[0].Shape; fmt.Sprint(got) != "[3 3]" {
		t.Errorf("output shape %v, want [3 3]", got)
	}
}
