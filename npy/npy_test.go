package npy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// The files in testdata were written by numpy 1.24 (np.save, np.savez,
// np.savez_compressed); see the values below.

func read(t *testing.T, name string) *host.Tensor {
	t.Helper()
	x, err := npy.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func values[T host.Element](t *testing.T, x *host.Tensor) []T {
	t.Helper()
	v, err := host.Values[T](x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// arange24 is np.arange(24, dtype=float32).reshape(2,3,4) * 0.5 - 3.
func arange24() []float32 {
	v := make([]float32, 24)
	for i := range v {
		v[i] = float32(i)*0.5 - 3
	}
	return v
}

func TestReadNumpyFiles(t *testing.T) {
	for _, name := range []string{"c_f32.npy", "fortran_f32.npy"} {
		x := read(t, name)
		if diff := cmp.Diff([]int{2, 3, 4}, x.Shape); x.DType != "float32" || diff != "" {
			t.Fatalf("%s: %s %s", name, x, diff)
		}
		if diff := cmp.Diff(arange24(), values[float32](t, x)); diff != "" {
			t.Errorf("%s: Fortran order must read as C order (-want +got):\n%s", name, diff)
		}
	}
	u := read(t, "fortran_u8.npy")
	want := make([]uint8, 30)
	for i := range want {
		want[i] = uint8(i)
	}
	if diff := cmp.Diff(want, values[uint8](t, u)); diff != "" {
		t.Errorf("fortran_u8: %s", diff)
	}
	if diff := cmp.Diff([]int32{-2, -1, 0, 1, 2, 3}, values[int32](t, read(t, "big_i32.npy"))); diff != "" {
		t.Errorf("big-endian int32: %s", diff)
	}
	if diff := cmp.Diff([]float64{1.5, -2.25, 3, 1e-300}, values[float64](t, read(t, "f64.npy"))); diff != "" {
		t.Errorf("float64: %s", diff)
	}
	if diff := cmp.Diff([]bool{true, false, true}, values[bool](t, read(t, "bool.npy"))); diff != "" {
		t.Errorf("bool: %s", diff)
	}
	s := read(t, "scalar_i64.npy")
	if len(s.Shape) != 0 || values[int64](t, s)[0] != -7 {
		t.Errorf("scalar: %s %v", s, s.Data)
	}
	h := read(t, "f16.npy")
	if h.DType != "float16" || !bytes.Equal(h.Data, []byte{0x00, 0x3c, 0x00, 0xb8, 0xff, 0x7b}) {
		t.Errorf("float16: %s % x", h, h.Data)
	}
}

// TestWriteMatchesNumpy: what Write writes is byte for byte what np.save
// wrote for the same array.
func TestWriteMatchesNumpy(t *testing.T) {
	for _, name := range []string{"c_f32.npy", "f64.npy", "bool.npy", "scalar_i64.npy", "f16.npy"} {
		file, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := npy.Write(&buf, read(t, name)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), file) {
			t.Errorf("%s: wrote\n%q\nnumpy wrote\n%q", name, buf.Bytes(), file)
		}
	}
}

func TestNPZ(t *testing.T) {
	e, err := npy.ReadNPZFile(filepath.Join("testdata", "pair.npz"))
	if err != nil {
		t.Fatal(err)
	}
	// np.savez(x, y=...) stores the keyword arrays first.
	if len(e) != 2 || e[0].Name != "y" || e[1].Name != "arr_0" {
		t.Fatalf("entries %v", e)
	}
	if diff := cmp.Diff([]int64{0, 1, 2}, values[int64](t, e[1].Tensor)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]float32{1, 1, 1, 1}, values[float32](t, e[0].Tensor)); diff != "" {
		t.Error(diff)
	}
	c, err := npy.ReadNPZFile(filepath.Join("testdata", "compressed.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 1 || c[0].Name != "x" {
		t.Fatalf("compressed entries %v", c)
	}
	if diff := cmp.Diff(arange24(), values[float32](t, c[0].Tensor)); diff != "" {
		t.Error(diff)
	}
	// Round trip through WriteNPZ.
	var buf bytes.Buffer
	if err := npy.WriteNPZ(&buf, e); err != nil {
		t.Fatal(err)
	}
	back, err := npy.ReadNPZ(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Errorf("round trip: %s", diff)
	}
}

func TestBadFiles(t *testing.T) {
	good, _ := os.ReadFile(filepath.Join("testdata", "c_f32.npy"))
	for name, data := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("\x93NUMPX\x01\x00\x10\x00"),
		"truncated": good[:40],
		"short":     good[:len(good)-4],
		"descr":     bytes.Replace(good, []byte("'<f4'"), []byte("'<c8'"), 1),
		"shape":     bytes.Replace(good, []byte("(2, 3, 4)"), []byte("(2, -3, 4)"), 1),
		"version":   append([]byte("\x93NUMPY\x09\x00"), good[8:]...),
	} {
		if _, err := npy.Read(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := npy.ReadNPZ(good); err == nil {
		t.Error("an .npy read as .npz gave no error")
	}
}

func FuzzRead(f *testing.F) {
	for _, n := range []string{"c_f32.npy", "fortran_u8.npy", "big_i32.npy", "scalar_i64.npy"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := npy.Read(data)
		if err == nil {
			if err := x.Check(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
