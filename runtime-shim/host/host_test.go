package host_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// withMetadata returns wasm with its "mlc" section replaced by m.
func withMetadata(t *testing.T, wasm []byte, m *abi.Metadata) []byte {
	t.Helper()
	secs, err := abi.ReadSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, wasm[:8]...)
	for _, s := range secs {
		body := s.Data
		if s.ID == 0 {
			data := s.Data
			if s.Name == abi.SectionName {
				data = js
			}
			body = append(uleb(uint64(len(s.Name))), s.Name...)
			body = append(body, data...)
		}
		out = append(out, s.ID)
		out = append(out, uleb(uint64(len(body)))...)
		out = append(out, body...)
	}
	return out
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		if v >>= 7; v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// The Go host refuses a module whose metadata lies about its buffers
// (issue 13): before, an input offset of 2^40 was truncated to 32 bits and
// gave wrong outputs silently, and an output of shape [1, 2^40] with bytes
// 40 made the host try a 4 TiB allocation.
func TestLoadRefusesLyingMetadata(t *testing.T) {
	o := mlc.DefaultOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	if m, err := rt.Load(ctx, withMetadata(t, res.Wasm, res.Meta)); err != nil {
		t.Fatalf("the honest module: %v", err)
	} else {
		m.Close(ctx)
	}
	for _, tc := range []struct {
		name string
		edit func(m *abi.Metadata)
	}{
		{"input offset 2^40", func(m *abi.Metadata) { m.Inputs[0].Offset += 1 << 40 }},
		{"output shape [1, 2^40]", func(m *abi.Metadata) { m.Outputs[0].Shape, m.Outputs[0].Bytes = []int{1, 1 << 40}, 40 }},
		{"output past memory", func(m *abi.Metadata) { m.Outputs[0].Offset = m.MemoryBytes + 1<<16 }},
	} {
		meta := *res.Meta
		meta.Inputs = append([]abi.Tensor{}, meta.Inputs...)
		meta.Outputs = append([]abi.Tensor{}, meta.Outputs...)
		tc.edit(&meta)
		m, err := rt.Load(ctx, withMetadata(t, res.Wasm, &meta))
		if err == nil {
			m.Close(ctx)
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), "mlc metadata") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// A threaded module's shared memory is created from its metadata before
// the module is instantiated: lying metadata is refused first, so that
// memory_bytes cannot choose the allocation (2^40 bytes, or a size the
// module's memory import does not declare).
func TestLoadRefusesLyingThreadedMetadata(t *testing.T) {
	o := mlc.DefaultOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	o.Threads = 2
	res, err := mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	if m, err := rt.Load(ctx, withMetadata(t, res.Wasm, res.Meta)); err != nil {
		t.Fatalf("the honest module: %v", err)
	} else {
		m.Close(ctx)
	}
	for _, tc := range []struct {
		name string
		edit func(m *abi.Metadata)
	}{
		{"memory_bytes 2^40", func(m *abi.Metadata) { m.MemoryBytes = 1 << 40 }},
		{"memory_bytes 64 MiB more", func(m *abi.Metadata) { m.MemoryBytes += 64 << 20 }},
		{"negative memory_bytes", func(m *abi.Metadata) { m.MemoryBytes = -1 }},
		{"input offset 2^40", func(m *abi.Metadata) { m.Inputs[0].Offset += 1 << 40 }},
	} {
		meta := *res.Meta
		meta.Inputs = append([]abi.Tensor{}, meta.Inputs...)
		tc.edit(&meta)
		m, err := rt.Load(ctx, withMetadata(t, res.Wasm, &meta))
		if err == nil {
			m.Close(ctx)
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), "mlc metadata") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
