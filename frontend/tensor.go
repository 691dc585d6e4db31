package frontend

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// onnxDTypes maps ONNX TensorProto.DataType codes to ir dtypes.
var onnxDTypes = map[int32]ir.DType{
	1: ir.Float32, 2: ir.Uint8, 3: ir.Int8, 4: ir.Uint16, 5: ir.Int16, 6: ir.Int32, 7: ir.Int64,
	8: ir.String, 9: ir.Bool, 10: ir.Float16, 11: ir.Float64, 12: ir.Uint32, 13: ir.Uint64,
	16: ir.BFloat16, 17: ir.Float8E4M3FN, 18: ir.Float8E4M3FNUZ, 19: ir.Float8E5M2, 20: ir.Float8E5M2FNUZ,
	21: ir.Uint4, 22: ir.Int4, 23: ir.Float4E2M1, 24: ir.Float8E8M0, 25: ir.Uint2, 26: ir.Int2,
}

var onnxDTypeNames = map[int32]string{14: "complex64", 15: "complex128"}

// DTypeFromONNX converts an ONNX data type code.
func DTypeFromONNX(code int32) (ir.DType, error) {
	if dt, ok := onnxDTypes[code]; ok {
		return dt, nil
	}
	if name, ok := onnxDTypeNames[code]; ok {
		return ir.Invalid, ir.NotSupportedf("dtype %s", name)
	}
	return ir.Invalid, fmt.Errorf("unknown ONNX data type %d", code)
}

// DTypeToONNX is the inverse of DTypeFromONNX.
func DTypeToONNX(dt ir.DType) int32 {
	for code, d := range onnxDTypes {
		if d == dt {
			return code
		}
	}
	return 0
}

// maxTensorBytes bounds a single tensor so that a hostile file declaring
// huge dims fails cleanly instead of exhausting memory.
const maxTensorBytes = 8 << 30

// shapeFromDims validates proto dims.
func shapeFromDims(dims []int64) (ir.Shape, error) {
	s := make(ir.Shape, len(dims))
	total := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d", d)
		}
		if d > 0 && total > maxTensorBytes/d {
			return nil, fmt.Errorf("dimensions %v are too large", dims)
		}
		total *= d
		s[i] = int(d)
	}
	return s, nil
}

// TensorFromProto decodes a TensorProto in any storage form: typed fields,
// raw_data, or external data in a file beside the model (dir).
func TensorFromProto(tp *onnxpb.TensorProto, dir string) (*ir.Tensor, error) {
	dt, err := DTypeFromONNX(tp.GetDataType())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
	}
	if tp.Segment != nil {
		return nil, ir.NotSupportedf("tensor %q is segmented", tp.GetName())
	}
	shape, err := shapeFromDims(tp.GetDims())
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
	}
	n := shape.Size()
	if dt == ir.String {
		if len(tp.StringData) != n {
			return nil, fmt.Errorf("tensor %q: %d strings for shape %s", tp.GetName(), len(tp.StringData), shape)
		}
		t := ir.NewTensor(ir.String, shape)
		for i, s := range tp.StringData {
			t.Strings[i] = string(s)
		}
		return t, nil
	}
	if dt.Bytes(n) > maxTensorBytes {
		return nil, fmt.Errorf("tensor %q: %s%s is too large", tp.GetName(), dt, shape)
	}
	raw := tp.RawData
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if raw, err = readExternal(tp, dir, dt.Bytes(n)); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
		}
	}
	if raw != nil {
		// Check sizes before allocating: a hostile file may declare huge dims.
		if len(raw) != dt.Bytes(n) {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, %s%s needs %d", tp.GetName(), len(raw), dt, shape, dt.Bytes(n))
		}
		t, err := ir.TensorOver(dt, shape, raw) // the decoded proto is dropped after import
		if err != nil {
			return nil, fmt.Errorf("tensor %q: raw_data: %w", tp.GetName(), err)
		}
		return t, nil
	}
	have := len(tp.FloatData) + len(tp.DoubleData) + len(tp.Int64Data) + len(tp.Uint64Data) + len(tp.Int32Data)
	if have < min(n, dt.Bytes(n)) { // sub-byte types pack several per entry; others need n
		return nil, fmt.Errorf("tensor %q: %d values for shape %s", tp.GetName(), have, shape)
	}
	t := ir.NewTensor(dt, shape)
	count := func(have int) error {
		if have != n {
			return fmt.Errorf("tensor %q: %d values for shape %s", tp.GetName(), have, shape)
		}
		return nil
	}
	switch dt {
	case ir.Float32:
		if err := count(len(tp.FloatData)); err != nil {
			return nil, err
		}
		copy(t.F32(), tp.FloatData)
	case ir.Float64:
		if err := count(len(tp.DoubleData)); err != nil {
			return nil, err
		}
		for i, v := range tp.DoubleData {
			binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
		}
	case ir.Int64:
		if err := count(len(tp.Int64Data)); err != nil {
			return nil, err
		}
		copy(t.I64(), tp.Int64Data)
	case ir.Uint32, ir.Uint64:
		if err := count(len(tp.Uint64Data)); err != nil {
			return nil, err
		}
		for i, v := range tp.Uint64Data {
			t.SetInt(i, int64(v))
		}
	case ir.Float16, ir.BFloat16, ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0:
		// int32_data holds the raw bits, one element per entry.
		if err := count(len(tp.Int32Data)); err != nil {
			return nil, err
		}
		w := dt.Bits() / 8
		for i, v := range tp.Int32Data {
			if w == 2 {
				binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(v))
			} else {
				t.Data[i] = byte(v)
			}
		}
	case ir.Int4, ir.Uint4, ir.Float4E2M1, ir.Int2, ir.Uint2:
		// int32_data packs the sub-byte elements into bytes, one byte per entry.
		if len(tp.Int32Data) != len(t.Data) {
			return nil, fmt.Errorf("tensor %q: %d packed bytes for %s%s, want %d", tp.GetName(), len(tp.Int32Data), dt, shape, len(t.Data))
		}
		for i, v := range tp.Int32Data {
			t.Data[i] = byte(v)
		}
	default: // int32, int16, int8, uint16, uint8, bool
		if err := count(len(tp.Int32Data)); err != nil {
			return nil, err
		}
		for i, v := range tp.Int32Data {
			t.SetInt(i, int64(v))
		}
	}
	return t, nil
}

// readExternal loads external data. The location is relative to the
// model's directory and, once symlinks are resolved, must stay inside it
// (ONNX Runtime's "External data path escapes model directory"): a model
// from anywhere may not read /etc/passwd into its weights through a link.
// Only regular files are read (a FIFO or a device could block or never
// end), and offset and length are checked against the file's size first.
func readExternal(tp *onnxpb.TensorProto, dir string, want int) ([]byte, error) {
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.ExternalData {
		var err error
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset":
			if offset, err = strconv.ParseInt(kv.GetValue(), 10, 64); err == nil && offset < 0 {
				err = fmt.Errorf("%d is negative", offset)
			}
		case "length":
			if length, err = strconv.ParseInt(kv.GetValue(), 10, 64); err == nil && length < 0 {
				err = fmt.Errorf("%d is negative", length)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s: %w", kv.GetKey(), err)
		}
	}
	if location == "" {
		return nil, fmt.Errorf("external data has no location")
	}
	if length < 0 {
		length = int64(want)
	}
	if length != int64(want) {
		return nil, fmt.Errorf("external data length %d: want %d bytes", length, want)
	}
	clean := filepath.Clean(location)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("external data location %q leaves the model directory", location)
	}
	if dir == "" {
		return nil, fmt.Errorf("external data %q but the model was not loaded from a file", location)
	}
	path, err := externalPath(dir, clean)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	// O_NONBLOCK: opening a FIFO swapped in after the check must not wait
	// for a writer; the Stat of the open file decides.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("external data %q is not a regular file (%s)", location, fi.Mode().Type())
	}
	if offset > fi.Size() || length > fi.Size()-offset {
		return nil, fmt.Errorf("external data file %q (%d bytes) is too short for %d bytes at offset %d", location, fi.Size(), length, offset)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	return buf, nil
}

// externalPath resolves location (clean and relative) inside dir after
// following every symlink, and refuses a path that leaves dir or is not a
// regular file.
func externalPath(dir, location string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", err
	}
	path, err := filepath.EvalSymlinks(filepath.Join(root, location))
	if err != nil {
		return "", err
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("external data path escapes model directory (it resolves to %s)", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return path, nil
}

// ReadTensorFile reads a serialized TensorProto (.pb), as in ONNX test data.
func ReadTensorFile(path string) (*ir.Tensor, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var tp onnxpb.TensorProto
	if err := unmarshal(data, &tp); err != nil {
		return nil, "", fmt.Errorf("%s: not a TensorProto: %w", path, err)
	}
	t, err := TensorFromProto(&tp, filepath.Dir(path))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return t, tp.GetName(), nil
}

// TensorToProto encodes t with raw_data (strings in string_data).
func TensorToProto(name string, t *ir.Tensor) *onnxpb.TensorProto {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	tp := &onnxpb.TensorProto{Name: &name, Dims: dims}
	code := DTypeToONNX(t.DType)
	tp.DataType = &code
	if t.DType == ir.String {
		for _, s := range t.Strings {
			tp.StringData = append(tp.StringData, []byte(s))
		}
	} else {
		tp.RawData = append([]byte{}, t.Data...)
	}
	return tp
}

// WriteTensorFile writes t as a serialized TensorProto (.pb) named name, as
// in ONNX test data; ReadTensorFile reads it back.
func WriteTensorFile(path, name string, t *ir.Tensor) error {
	b, err := proto.Marshal(TensorToProto(name, t))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
