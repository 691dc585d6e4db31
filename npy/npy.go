// Package npy reads and writes numpy's .npy files and .npz archives as
// host tensors (runtime-shim/host.Tensor), the form mlc modules take their
// inputs in and give their outputs.
//
// Read accepts format versions 1-3, little- and big-endian data, and C or
// Fortran order (Fortran-order arrays are reordered to C order on
// reading); the dtypes are numpy's booleans, integers and floats of 1 to 8
// bytes. Write writes version 1.0 (2.0 for very long headers),
// little-endian, C order. An .npz archive is a zip file of .npy files,
// stored or deflated (numpy's savez and savez_compressed).
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

	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// kinds maps a numpy type character and byte size to a dtype.
var kinds = map[string]string{
	"f2": "float16", "f4": "float32", "f8": "float64",
	"i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
	"u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
	"b1": "bool",
}

var (
	reDescr   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

const magic = "\x93NUMPY"

// Read decodes .npy bytes.
func Read(data []byte) (*host.Tensor, error) {
	if len(data) < 10 || string(data[:6]) != magic {
		return nil, fmt.Errorf("not a .npy file")
	}
	var hlen, start int
	switch major := data[6]; major {
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
	if hlen < 0 || start+hlen > len(data) {
		return nil, fmt.Errorf("truncated .npy header")
	}
	header := string(data[start : start+hlen])
	m := reDescr.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf(".npy header has no descr: %s", header)
	}
	dtype, bigEndian, err := parseDescr(m[1])
	if err != nil {
		return nil, err
	}
	s := reShape.FindStringSubmatch(header)
	if s == nil {
		return nil, fmt.Errorf(".npy header has no shape")
	}
	shape := []int{}
	size := 1
	for _, p := range strings.Split(s[1], ",") {
		p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "L"))
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 || size > 0 && d > (1<<40)/size {
			return nil, fmt.Errorf(".npy shape (%s) is not a shape", s[1])
		}
		shape = append(shape, d)
		size *= d
	}
	t, err := host.Zeros(dtype, shape)
	if err != nil {
		return nil, err
	}
	body := data[start+hlen:]
	if len(body) < len(t.Data) {
		return nil, fmt.Errorf(".npy data is %d bytes, %s needs %d", len(body), t, len(t.Data))
	}
	copy(t.Data, body)
	width, _ := host.DTypeBits(dtype)
	width /= 8
	if bigEndian && width > 1 {
		for i := 0; i < len(t.Data); i += width {
			e := t.Data[i : i+width]
			for a, b := 0, width-1; a < b; a, b = a+1, b-1 {
				e[a], e[b] = e[b], e[a]
			}
		}
	}
	if f := reFortran.FindStringSubmatch(header); f != nil && f[1] == "True" && len(shape) > 1 {
		t.Data = fortranToC(t.Data, shape, width)
	}
	return t, nil
}

// parseDescr reads a numpy type string such as '<f4', '|b1' or '>i8'.
func parseDescr(descr string) (dtype string, bigEndian bool, err error) {
	if len(descr) >= 3 {
		dt, ok := kinds[descr[1:]]
		switch order := descr[0]; {
		case !ok:
		case order == '<' || order == '=' || order == '|':
			return dt, false, nil
		case order == '>':
			return dt, true, nil
		}
	}
	return "", false, fmt.Errorf(".npy dtype %q is not supported (booleans, integers and floats only)", descr)
}

// fortranToC reorders column-major elements of the given width to row-major.
func fortranToC(data []byte, shape []int, width int) []byte {
	out := make([]byte, len(data))
	// fstride[d] is the element stride of dimension d in Fortran order.
	fstride := make([]int, len(shape))
	s := 1
	for d := range shape {
		fstride[d] = s
		s *= shape[d]
	}
	idx := make([]int, len(shape))
	src := 0
	for dst := 0; dst < len(data); dst += width {
		copy(out[dst:dst+width], data[src*width:])
		// Advance the C-order index: the last dimension fastest.
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			src += fstride[d]
			if idx[d] < shape[d] {
				break
			}
			src -= idx[d] * fstride[d]
			idx[d] = 0
		}
	}
	return out
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*host.Tensor, error) {
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

// Write encodes t as .npy (little-endian, C order).
func Write(w io.Writer, t *host.Tensor) error {
	descr := ""
	for k, v := range kinds {
		if v == t.DType {
			descr = "<" + k
			if k[1] == '1' {
				descr = "|" + k
			}
		}
	}
	if descr == "" {
		return fmt.Errorf(".npy has no standard dtype for %s", t.DType)
	}
	if err := t.Check(); err != nil {
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
	var buf bytes.Buffer
	buf.WriteString(magic)
	if total := 10 + len(header) + 1; total+(64-total%64)%64 <= 65535+10 {
		header += strings.Repeat(" ", (64-total%64)%64) + "\n"
		buf.WriteString("\x01\x00")
		binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	} else {
		total += 2
		header += strings.Repeat(" ", (64-total%64)%64) + "\n"
		buf.WriteString("\x02\x00")
		binary.Write(&buf, binary.LittleEndian, uint32(len(header)))
	}
	buf.WriteString(header)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(t.Data)
	return err
}

// WriteFile writes t to path as .npy.
func WriteFile(path string, t *host.Tensor) error {
	var buf bytes.Buffer
	if err := Write(&buf, t); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
