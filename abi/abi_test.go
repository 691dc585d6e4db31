package abi_test

import (
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/ir"
)

// Every dtype the compiler can put in a module's metadata has its size in
// abi.DTypeBits, the same as ir's.
func TestDTypeBitsMatchIR(t *testing.T) {
	for d := ir.Float32; ; d++ {
		name := d.String()
		if strings.HasPrefix(name, "dtype(") {
			break
		}
		if d == ir.String {
			continue
		}
		if got, ok := abi.DTypeBits[name]; !ok || got != d.Bits() {
			t.Errorf("DTypeBits[%q] = %d, %v; ir says %d bits", name, got, ok, d.Bits())
		}
	}
}

// Hosts refuse metadata that does not fit the module's memory (issue 13:
// an offset of 2^40 was truncated to 32 bits, a shape of [1, 2^40] with
// bytes 40 made the Go host allocate 4 TiB).
func TestValidateRefusesLies(t *testing.T) {
	const mem = 1 << 20
	good := abi.Tensor{Name: "x", DType: "float32", Shape: []int{2, 3}, Offset: 64, Bytes: 24}
	for _, tc := range []struct {
		name string
		edit func(m *abi.Metadata)
		want string // "" for valid
	}{
		{"valid", func(m *abi.Metadata) {}, ""},
		{"sub-byte", func(m *abi.Metadata) {
			m.Outputs[0] = abi.Tensor{Name: "y", DType: "int4", Shape: []int{3}, Offset: 0, Bytes: 2}
		}, ""},
		{"empty", func(m *abi.Metadata) { m.Outputs[0].Shape, m.Outputs[0].Bytes = []int{1 << 40, 0}, 0 }, ""},
		{"offset 2^40", func(m *abi.Metadata) { m.Inputs[0].Offset = 1 << 40 }, "outside the module's memory"},
		{"negative offset", func(m *abi.Metadata) { m.Inputs[0].Offset = -8 }, "outside"},
		{"end past memory", func(m *abi.Metadata) { m.Inputs[0].Offset = mem - 8 }, "outside"},
		{"huge shape", func(m *abi.Metadata) { m.Outputs[0].Shape, m.Outputs[0].Bytes = []int{1, 1 << 40}, 40 }, "larger than a module's memory"},
		{"bytes lie", func(m *abi.Metadata) { m.Outputs[0].Bytes = 4 }, "bytes is 4"},
		{"overflowing shape", func(m *abi.Metadata) { m.Outputs[0].Shape = []int{1 << 31, 1 << 31, 1 << 31, 4} }, "larger"},
		{"negative dim", func(m *abi.Metadata) { m.Outputs[0].Shape = []int{-2, -3} }, "negative"},
		{"unknown dtype", func(m *abi.Metadata) { m.Outputs[0].DType = "complex64" }, "unknown dtype"},
		{"memory_bytes", func(m *abi.Metadata) { m.MemoryBytes = mem + 1 }, "memory_bytes"},
		{"duplicate", func(m *abi.Metadata) { m.Outputs = append(m.Outputs, m.Outputs[0]) }, "two outputs"},
	} {
		m := &abi.Metadata{ABI: 1, MemoryBytes: 4096, Inputs: []abi.Tensor{good}, Outputs: []abi.Tensor{good}}
		m.Outputs[0].Name = "y"
		m.Outputs[0].Shape = []int{2, 3}
		tc.edit(m)
		err := m.Validate(mem)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// A section size near 2^64 must not wrap around the bounds check.
func TestReadSectionsHugeSize(t *testing.T) {
	module := []byte("\x00asm\x01\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	if _, err := abi.ReadSections(module); err == nil {
		t.Fatal("no error")
	}
}
