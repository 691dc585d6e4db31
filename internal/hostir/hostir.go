// Package hostir converts between the compiler's ir.Tensor and the host's
// own host.Tensor, for the compiler-side code (verify, quant, the CLI,
// tests) that computes on ir tensors and runs modules through
// runtime-shim/host. The host package itself knows nothing of ir.
package hostir

import (
	"context"
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// ToHost shares t's bytes in a host tensor.
func ToHost(t *ir.Tensor) *host.Tensor {
	return &host.Tensor{DType: t.DType.String(), Shape: []int(t.Shape), Data: t.Data}
}

// FromHost copies a host tensor into an (aligned) ir tensor.
func FromHost(t *host.Tensor) (*ir.Tensor, error) {
	dt, ok := ir.ParseDType(t.DType)
	if !ok || dt == ir.String {
		return nil, fmt.Errorf("unknown dtype %q", t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("shape %s has a negative dimension", host.ShapeString(t.Shape))
		}
	}
	return ir.TensorFromBytes(dt, ir.Shape(t.Shape).Clone(), t.Data)
}

// ToHostMap converts named tensors with ToHost.
func ToHostMap(m map[string]*ir.Tensor) map[string]*host.Tensor {
	if m == nil {
		return nil
	}
	out := make(map[string]*host.Tensor, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = ToHost(v)
		}
	}
	return out
}

// FromHostMap converts named tensors with FromHost.
func FromHostMap(m map[string]*host.Tensor) (map[string]*ir.Tensor, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]*ir.Tensor, len(m))
	for k, v := range m {
		t, err := FromHost(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		out[k] = t
	}
	return out, nil
}

// Run runs a loaded module on ir tensors.
func Run(ctx context.Context, m *host.Model, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	out, err := m.Run(ctx, ToHostMap(inputs))
	if err != nil {
		return nil, err
	}
	return FromHostMap(out)
}

// ReadNPY reads a .npy file as an ir tensor.
func ReadNPY(path string) (*ir.Tensor, error) {
	t, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x, err := FromHost(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// WriteNPY writes an ir tensor as a .npy file.
func WriteNPY(path string, t *ir.Tensor) error { return npy.WriteFile(path, ToHost(t)) }
