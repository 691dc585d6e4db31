// Package npy reads and writes numpy .npy files (format versions 1-3,
// little-endian, C order) as ir tensors.
package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/mlc-compiler/mlc/ir"
)

var descrs = map[string]ir.DType{
	"<f4": ir.Float32, "<f8": ir.Float64, "<f2": ir.Float16,
	"|i1": ir.Int8, "<i2": ir.Int16, "<i4": ir.Int32, "<i8": ir.Int64,
	"|u1": ir.Uint8, "<u2": ir.Uint16, "<u4": ir.Uint32, "<u8": ir.Uint64,
	"|b1": ir.Bool,
}

func descrOf(dt ir.DType) (string, error) {
	for k, v := range descrs {
		if v == dt {
			return k, nil
		}
	}
	return "", fmt.Errorf(".npy has no standard dtype for %s", dt)
}

var (
	reDescr   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// Read decodes .npy bytes.
func Read(data []byte) (*ir.Tensor, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy file")
	}
	major := data[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, fmt.Errorf("truncated .npy header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return nil, fmt.Errorf(".npy version %d is not supported", major)
	}
	if start+hlen > len(data) {
		return nil, fmt.Errorf("truncated .npy header")
	}
	header := string(data[start : start+hlen])
	m := reDescr.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf(".npy header has no descr: %s", header)
	}
	descr := m[1]
	dt, ok := descrs[strings.Replace(descr, "=", "<", 1)] // native order is little-endian here
	if !ok {
		return nil, fmt.Errorf(".npy dtype %q is not supported (little-endian numeric and bool only)", descr)
	}
	if f := reFortran.FindStringSubmatch(header); f != nil && f[1] == "True" {
		return nil, fmt.Errorf(".npy in Fortran order is not supported")
	}
	s := reShape.FindStringSubmatch(header)
	if s == nil {
		return nil, fmt.Errorf(".npy header has no shape")
	}
	shape := ir.Shape{}
	for _, p := range strings.Split(s[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return nil, fmt.Errorf(".npy shape %q", s[1])
		}
		shape = append(shape, d)
	}
	body := data[start+hlen:]
	want := dt.Bytes(shape.Size())
	if len(body) < want {
		return nil, fmt.Errorf(".npy data is %d bytes, %s%s needs %d", len(body), dt, shape, want)
	}
	return ir.TensorFromBytes(dt, shape, body[:want])
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Write encodes t as .npy version 1.0.
func Write(w io.Writer, t *ir.Tensor) error {
	descr, err := descrOf(t.DType)
	if err != nil {
		return err
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(t.Shape) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad so that the data starts on a 64-byte boundary, ending in \n.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	buf.Write(t.Data)
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteFile writes t to path as .npy.
func WriteFile(path string, t *ir.Tensor) error {
	var buf bytes.Buffer
	if err := Write(&buf, t); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
