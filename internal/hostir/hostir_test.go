package hostir

import (
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// TestDTypesAgree: the host's dtype table (it cannot import ir) names every
// ir dtype a module may take or give, with the same storage size.
func TestDTypesAgree(t *testing.T) {
	for dt := ir.Float32; dt < ir.String; dt++ {
		bits, ok := host.DTypeBits(dt.String())
		if !ok || bits != dt.Bits() {
			t.Errorf("%s: host says %d bits (known %v), ir %d", dt, bits, ok, dt.Bits())
		}
		x := ir.NewTensor(dt, ir.Shape{3, 5})
		h := ToHost(x)
		if err := h.Check(); err != nil {
			t.Errorf("%s: %v", dt, err)
		}
		back, err := FromHost(h)
		if err != nil || back.DType != dt || !back.Shape.Equal(x.Shape) {
			t.Errorf("%s: round trip gave %v, %v", dt, back, err)
		}
	}
	if _, ok := host.DTypeBits("string"); ok {
		t.Error("host must not take string tensors (ABI v1 has none)")
	}
}
