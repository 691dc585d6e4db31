package e2e_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestKernelDTypeRefusedAtImport: a Conv on a dtype no kernel takes fails
// at import (ir.DeclareKernelDTypes, checked by InferNode), as unsupported,
// naming the node, the op, the opset and the dtype, not in code generation;
// the dtypes it takes compile.
func TestKernelDTypeRefusedAtImport(t *testing.T) {
	for _, dt := range []ir.DType{ir.BFloat16, ir.Float16, ir.Float32} {
		w := ir.FromFloats(dt, ir.Shape{3, 2, 3, 3}, make([]float64, 54))
		n := optest.Op("Conv", []string{"x", "w"}, []string{"y"})
		model := oneNode(13, ir.Type{DType: dt, Shape: ir.Shape{1, 2, 4, 4}}, n, map[string]*ir.Tensor{"w": w})
		_, err := mlc.Compile(model, "", mlc.Options{OptLevel: 2})
		if dt != ir.BFloat16 {
			if err != nil {
				t.Errorf("%s Conv: %v", dt, err)
			}
			continue
		}
		var dte *ir.DTypeError
		if err == nil || !ir.IsUnsupported(err) || !errors.As(err, &dte) {
			t.Fatalf("bfloat16 Conv: %v, want an unsupported dtype error", err)
		}
		for _, want := range []string{`"y"`, "Conv (opset 13)", "Conv on bfloat16", "float16, float32, float64"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
		}
		if strings.Contains(err.Error(), "code generation") {
			t.Errorf("error %q comes from code generation", err)
		}
	}
}
