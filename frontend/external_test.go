//go:build unix

package frontend_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// externalModel writes dir/model.onnx: y = Identity(w), w a float32[n]
// initializer stored as external data with these key/value pairs.
func externalModel(t *testing.T, dir string, n int, kv ...string) string {
	t.Helper()
	w := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{int64(n)}, DataType: proto.Int32(1),
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
	for i := 0; i < len(kv); i += 2 {
		w.ExternalData = append(w.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String("ext"),
		Initializer: []*onnxpb.TensorProto{w},
		Node:        []*onnxpb.NodeProto{optest.Op("Identity", []string{"w"}, []string{"y"})},
		Output:      []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, n)},
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, optest.GraphModel(13, g), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadWithin loads a model, failing the test if loading takes more than
// a few seconds (a FIFO used to block forever).
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := frontend.Load(path, frontend.Options{})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("loading hangs")
		return nil
	}
}

// A secret outside the model's folder, reachable only through symlinks.
func secret(t *testing.T) (dir, file string) {
	dir = t.TempDir()
	file = filepath.Join(dir, "passwd")
	if err := os.WriteFile(file, []byte("root:x:0:0:secret:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// Issue 13: external data was read through symlinks leaving the model's
// folder (the check was textual), so /etc/passwd could end up in a
// module's data and come back as an output.
func TestExternalDataSymlinkEscapes(t *testing.T) {
	outside, passwd := secret(t)
	for _, tc := range []struct {
		name     string
		link     func(dir string) error
		location string
	}{
		{"file link", func(dir string) error { return os.Symlink(passwd, filepath.Join(dir, "w.bin")) }, "w.bin"},
		{"relative file link", func(dir string) error {
			rel, _ := filepath.Rel(dir, passwd)
			return os.Symlink(rel, filepath.Join(dir, "w.bin"))
		}, "w.bin"},
		{"directory link", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "weights")) }, "weights/passwd"},
		{"link to a link", func(dir string) error {
			if err := os.Symlink(outside, filepath.Join(dir, "a")); err != nil {
				return err
			}
			return os.Symlink(filepath.Join(dir, "a", "passwd"), filepath.Join(dir, "b"))
		}, "b"},
	} {
		dir := t.TempDir()
		if err := tc.link(dir); err != nil {
			t.Fatal(err)
		}
		path := externalModel(t, dir, 8, "location", tc.location)
		err := loadWithin(t, path)
		if err == nil || !strings.Contains(err.Error(), "escapes model directory") {
			t.Errorf("%s: error %v, want one saying the path escapes the model directory", tc.name, err)
		}
	}
}

// Symlinks that stay inside the model's folder, and a model folder reached
// through a symlink, still load.
func TestExternalDataSymlinkInside(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 32)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.MkdirAll(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real", "w.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	externalModel(t, dir, 8, "location", "data/w.bin")
	link := filepath.Join(t.TempDir(), "model-link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "model.onnx"), filepath.Join(link, "model.onnx")} {
		m, err := frontend.Load(path, frontend.Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := m.Graph.Outputs[0].Const; got == nil || string(got.Data) != string(data) {
			t.Errorf("%s: wrong data", path)
		}
	}
}

// Issue 13: a location naming a FIFO hung, a directory misbehaved; only
// regular files are read. Negative or overflowing offset and length are
// errors (length=-5 was accepted).
func TestExternalDataFileChecks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644) == nil
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"fifo", []string{"location", "fifo"}, "not a regular file"},
		{"directory", []string{"location", "sub"}, "not a regular file"},
		{"model folder", []string{"location", "."}, "not a regular file"},
		{"negative length", []string{"location", "w.bin", "length", "-5"}, "negative"},
		{"negative offset", []string{"location", "w.bin", "offset", "-1"}, "negative"},
		{"offset overflows", []string{"location", "w.bin", "offset", "9223372036854775807"}, "too short"},
		{"offset past the end", []string{"location", "w.bin", "offset", "40"}, "too short"},
		{"length too large", []string{"location", "w.bin", "length", "9223372036854775807"}, "want 32 bytes"},
		{"length not a number", []string{"location", "w.bin", "length", "1e3"}, "length"},
		{"absolute", []string{"location", "/etc/passwd"}, "leaves the model directory"},
		{"dot-dot", []string{"location", "../w.bin"}, "leaves the model directory"},
	} {
		if tc.name == "fifo" && !fifo {
			continue
		}
		path := externalModel(t, dir, 8, tc.kv...)
		err := loadWithin(t, path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	path := externalModel(t, dir, 8, "location", "w.bin", "offset", "32", "length", "32")
	if err := loadWithin(t, path); err != nil {
		t.Errorf("a valid offset and length: %v", err)
	}
}
