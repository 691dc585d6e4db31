package npy

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Entry is one array of an .npz archive: its name (the member's file name
// without ".npy") and its value.
type Entry struct {
	Name   string
	Tensor *host.Tensor
}

// maxNPZMember bounds one member's size (a hostile archive may claim any).
const maxNPZMember = 16 << 30

// ReadNPZ decodes an .npz archive; entries keep the archive's order.
// numpy's savez(a, b, c=x) stores c first, then a and b as arr_0, arr_1.
func ReadNPZ(data []byte) ([]Entry, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not an .npz file: %w", err)
	}
	var out []Entry
	seen := map[string]bool{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		if seen[name] {
			return nil, fmt.Errorf(".npz holds %q twice", name)
		}
		seen[name] = true
		if f.UncompressedSize64 > maxNPZMember {
			return nil, fmt.Errorf(".npz member %s is %d bytes, more than mlc reads", f.Name, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf(".npz member %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxNPZMember+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf(".npz member %s: %w", f.Name, err)
		}
		t, err := Read(b)
		if err != nil {
			return nil, fmt.Errorf(".npz member %s: %w", f.Name, err)
		}
		out = append(out, Entry{Name: name, Tensor: t})
	}
	return out, nil
}

// ReadNPZFile reads an .npz file.
func ReadNPZFile(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := ReadNPZ(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// WriteNPZ writes entries as an uncompressed .npz archive (what numpy's
// savez writes), in order.
func WriteNPZ(w io.Writer, entries []Entry) error {
	zw := zip.NewWriter(w)
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Name == "" || seen[e.Name] {
			return fmt.Errorf(".npz entry name %q is empty or given twice", e.Name)
		}
		seen[e.Name] = true
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if err := Write(f, e.Tensor); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	return zw.Close()
}

// WriteNPZFile writes entries to path as .npz.
func WriteNPZFile(path string, entries []Entry) error {
	var buf bytes.Buffer
	if err := WriteNPZ(&buf, entries); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
