package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// TestRunTimeChecks compiles ONNX backend cases, runs them on their own
// data (which must work), then on data with an index out of range or data
// that asks for an output shape other than the compiled one: the run must
// fail with the matching mlc_run status instead of reading or writing out
// of bounds.
func TestRunTimeChecks(t *testing.T) {
	shared := testenv.Shared(t)
	cases := []struct {
		name  string
		input int                // which input to change
		edit  func(t *ir.Tensor) // the bad data
		code  int
	}{
		{"test_gather_elements_0", 1, func(t *ir.Tensor) { t.SetInt(0, 2) }, abi.ErrIndexOutOfRange},
		{"test_gather_elements_negative_indices", 1, func(t *ir.Tensor) { t.SetInt(0, -4) }, abi.ErrIndexOutOfRange},
		{"test_gathernd_example_int32", 1, func(t *ir.Tensor) { t.SetInt(1, 2) }, abi.ErrIndexOutOfRange},
		{"test_scatter_elements_with_axis", 1, func(t *ir.Tensor) { t.SetInt(1, 5) }, abi.ErrIndexOutOfRange},
		{"test_scatternd", 1, func(t *ir.Tensor) { t.SetInt(0, -5) }, abi.ErrIndexOutOfRange},
		{"test_tensorscatter", 2, func(t *ir.Tensor) { t.SetInt(0, 4) }, abi.ErrIndexOutOfRange},
		{"test_cumsum_2d_axis_0", 1, func(t *ir.Tensor) { t.SetInt(0, 2) }, abi.ErrIndexOutOfRange},
		{"test_top_k", 1, func(t *ir.Tensor) { t.SetInt(0, 2) }, abi.ErrShapeMismatch},
		{"test_nonzero_example", 0, func(t *ir.Tensor) { t.SetInt(1, 1) }, abi.ErrShapeMismatch},
		{"test_compress_0", 1, func(t *ir.Tensor) { t.SetInt(0, 1) }, abi.ErrShapeMismatch},
		{"test_unique_not_sorted_without_axis", 0, func(t *ir.Tensor) { t.SetFloat(1, 42) }, abi.ErrShapeMismatch},
		{"test_nonmaxsuppression_suppress_by_IOU", 2, func(t *ir.Tensor) { t.SetInt(0, 1) }, abi.ErrShapeMismatch},
		{"test_maxunpool_export_without_output_shape", 1, func(t *ir.Tensor) { t.SetInt(3, 16) }, abi.ErrIndexOutOfRange},
		{"test_maxunpool_export_with_output_shape", 2, func(t *ir.Tensor) { t.SetInt(3, 6) }, abi.ErrShapeMismatch},
		{"test_hannwindow", 0, func(t *ir.Tensor) { t.SetInt(0, 11) }, abi.ErrShapeMismatch},
		{"test_dft_rfft", 1, func(t *ir.Tensor) { t.SetInt(0, 2) }, abi.ErrShapeMismatch},
		{"test_dft", 1, func(t *ir.Tensor) { t.SetInt(0, 3) }, abi.ErrIndexOutOfRange},
		{"test_stft", 1, func(t *ir.Tensor) { t.SetInt(0, 7) }, abi.ErrShapeMismatch},
		{"test_stft", 2, func(t *ir.Tensor) { t.SetInt(0, 20) }, abi.ErrShapeMismatch},
		{"test_melweightmatrix", 0, func(t *ir.Tensor) { t.SetInt(0, 9) }, abi.ErrShapeMismatch},
		{"test_col2im", 2, func(t *ir.Tensor) { t.SetInt(0, 2); t.SetInt(1, 2) }, abi.ErrShapeMismatch},
		{"test_slice_default_axes", 1, func(t *ir.Tensor) { t.SetInt(2, 2) }, abi.ErrShapeMismatch},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/input%d", c.name, c.input), func(t *testing.T) {
			dir := filepath.Join(shared, "onnx-tests", "node", c.name)
			data, mp := readModel(t, dir)
			o := mlc.DefaultOptions()
			o.InputShapes = map[string][]int{}
			feed := tensors{}
			for i, vi := range mp.Graph.Input {
				x := readPB(t, filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
				o.InputShapes[vi.GetName()] = x.Shape
				feed[vi.GetName()] = x
			}
			res, err := mlc.Compile(data, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			m := optest.Load(t, res.Wasm)
			if _, err := hostir.Run(ctx, m, feed); err != nil {
				t.Fatalf("the case's own data: %v", err)
			}
			name := mp.Graph.Input[c.input].GetName()
			bad := feed[name].Clone()
			c.edit(bad)
			feed[name] = bad
			_, err = hostir.Run(ctx, m, feed)
			want := fmt.Sprintf("mlc_run returned %d", c.code)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("bad data: got %v, want %q", err, want)
			}
			// As a WASI command the same data exits 1 with the status's message.
			var stdin []byte
			for _, in := range res.Meta.Inputs {
				stdin = append(stdin, feed[in.Name].Data...)
			}
			_, stderr, exit, err := optest.Runtime(t).RunCommand(ctx, res.Wasm, stdin)
			msg := abi.RunErrorMessages[fmt.Sprint(c.code)]
			if err != nil || exit != 1 || !strings.Contains(string(stderr), msg) {
				t.Errorf("WASI command: exit %d, err %v, stderr %q; want exit 1 and %q", exit, err, stderr, msg)
			}
		})
	}
}
