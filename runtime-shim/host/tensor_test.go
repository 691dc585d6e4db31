package host_test

import (
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func TestTensor(t *testing.T) {
	x, err := host.New([]int{2, 2}, []int64{1, -2, 3, 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if x.DType != "int64" || x.Len() != 4 || len(x.Data) != 32 || x.String() != "int64[2,2]" {
		t.Fatalf("%v %d %d", x, x.Len(), len(x.Data))
	}
	v, err := host.Values[int64](x)
	if err != nil || !slices.Equal(v, []int64{1, -2, 3, 1 << 40}) {
		t.Fatalf("values %v %v", v, err)
	}
	if _, err := host.Values[float32](x); err == nil {
		t.Error("int64 read as float32")
	}
	if _, err := host.New([]int{3}, []float32{1, 2}); err == nil {
		t.Error("2 values for 3 elements")
	}
	b, _ := host.New([]int{3}, []bool{true, false, true})
	if b.DType != "bool" || string(b.Data) != "\x01\x00\x01" {
		t.Errorf("bool %v % x", b, b.Data)
	}
	s, _ := host.New([]int{}, []float32{2.5})
	if s.String() != "float32[]" || s.Len() != 1 {
		t.Errorf("scalar %v", s)
	}
	for dt, bytes := range map[string]int{"float16": 12, "int4": 3, "uint2": 2, "bfloat16": 12} {
		z, err := host.Zeros(dt, []int{2, 3})
		if err != nil || len(z.Data) != bytes || z.Check() != nil {
			t.Errorf("%s: %v %d", dt, err, len(z.Data))
		}
	}
	if _, err := host.Zeros("complex64", []int{1}); err == nil {
		t.Error("unknown dtype accepted")
	}
	if _, err := host.Zeros("float32", []int{-1}); err == nil {
		t.Error("negative dimension accepted")
	}
	bad := &host.Tensor{DType: "float32", Shape: []int{2}, Data: make([]byte, 4)}
	if bad.Check() == nil {
		t.Error("short data passes Check")
	}
}
