package ir

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// Shape is a static tensor shape; a scalar has an empty shape.
type Shape []int

// Size is the element count.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Strides are the row-major element strides of s.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	n := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = n
		n *= s[i]
	}
	return st
}

// Equal reports whether two shapes are the same.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy that does not alias s.
func (s Shape) Clone() Shape { return append(Shape{}, s...) }

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Type is the static type of a tensor value.
type Type struct {
	DType DType
	Shape Shape
}

func (t Type) String() string { return t.DType.String() + t.Shape.String() }

// Bytes is the storage size of a tensor of this type.
func (t Type) Bytes() int { return t.DType.Bytes(t.Shape.Size()) }

// Tensor is a dense tensor. Data holds the elements little-endian exactly as
// they sit in Wasm memory (sub-byte types packed low bits first), so a
// constant goes into a data segment unchanged. String tensors use Strings.
type Tensor struct {
	Type
	Data    []byte
	Strings []string
}

// NewTensor returns a zero tensor. Its data is 8-byte aligned so that the
// typed views below are valid.
func NewTensor(dt DType, shape Shape) *Tensor {
	t := &Tensor{Type: Type{dt, shape.Clone()}}
	if dt == String {
		t.Strings = make([]string, shape.Size())
		return t
	}
	n := dt.Bytes(shape.Size())
	words := make([]uint64, (n+7)/8)
	if len(words) > 0 {
		t.Data = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	} else {
		t.Data = []byte{}
	}
	return t
}

// TensorOver is a tensor over little-endian data that the caller hands
// over (it must not change it later): data itself when it is 8-byte
// aligned, as typed views need, else an aligned copy. The frontend keeps
// a model's weights in the decoder's buffers instead of copying them.
func TensorOver(dt DType, shape Shape, data []byte) (*Tensor, error) {
	if len(data) == 0 || uintptr(unsafe.Pointer(&data[0]))%8 != 0 || dt == String {
		return TensorFromBytes(dt, shape, data)
	}
	if n := dt.Bytes(shape.Size()); len(data) != n {
		return nil, fmt.Errorf("%s%s needs %d bytes, got %d", dt, shape, n, len(data))
	}
	return &Tensor{Type: Type{dt, shape.Clone()}, Data: data[:len(data):len(data)]}, nil
}

// TensorFromBytes copies little-endian data into a new aligned tensor.
func TensorFromBytes(dt DType, shape Shape, data []byte) (*Tensor, error) {
	t := NewTensor(dt, shape)
	if len(data) != len(t.Data) {
		return nil, fmt.Errorf("%s%s needs %d bytes, got %d", dt, shape, len(t.Data), len(data))
	}
	copy(t.Data, data)
	return t, nil
}

// Len is the element count.
func (t *Tensor) Len() int { return t.Shape.Size() }

// Clone deep-copies t.
func (t *Tensor) Clone() *Tensor {
	c := NewTensor(t.DType, t.Shape)
	copy(c.Data, t.Data)
	copy(c.Strings, t.Strings)
	return c
}

// Reshaped returns a tensor sharing t's data under another shape.
func (t *Tensor) Reshaped(s Shape) *Tensor {
	return &Tensor{Type: Type{t.DType, s.Clone()}, Data: t.Data, Strings: t.Strings}
}

func view[T any](t *Tensor, dt DType) []T {
	if t.DType != dt {
		panic(fmt.Sprintf("tensor is %s, not %s", t.DType, dt))
	}
	if len(t.Data) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*T)(unsafe.Pointer(&t.Data[0])), len(t.Data)/int(unsafe.Sizeof(z)))
}

// Typed views over the data; they panic when the dtype differs.
func (t *Tensor) F32() []float32 { return view[float32](t, Float32) }
func (t *Tensor) F64() []float64 { return view[float64](t, Float64) }
func (t *Tensor) I64() []int64   { return view[int64](t, Int64) }
func (t *Tensor) I32() []int32   { return view[int32](t, Int32) }
func (t *Tensor) U8() []uint8    { return view[uint8](t, Uint8) }
func (t *Tensor) I8() []int8     { return view[int8](t, Int8) }

// Float reads element i of any numeric tensor as float64.
func (t *Tensor) Float(i int) float64 {
	d := t.Data
	switch t.DType {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:]))
	case Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0, Float4E2M1:
		return float64(SmallFloatToFloat32(t.DType, t.rawSmall(i)))
	case Uint64:
		return float64(t.Uint(i))
	default:
		return float64(t.Int(i))
	}
}

// rawSmall reads the bits of element i of a 16-bit-or-narrower type.
func (t *Tensor) rawSmall(i int) uint32 {
	switch t.DType.Bits() {
	case 16:
		return uint32(binary.LittleEndian.Uint16(t.Data[2*i:]))
	case 8:
		return uint32(t.Data[i])
	case 4:
		return uint32(t.Data[i/2]>>(4*(i%2))) & 0xf
	case 2:
		return uint32(t.Data[i/4]>>(2*(i%4))) & 0x3
	}
	panic("rawSmall on " + t.DType.String())
}

func (t *Tensor) setRawSmall(i int, v uint32) {
	switch t.DType.Bits() {
	case 16:
		binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(v))
	case 8:
		t.Data[i] = byte(v)
	case 4:
		sh := 4 * (i % 2)
		t.Data[i/2] = t.Data[i/2]&^(0xf<<sh) | byte(v&0xf)<<sh
	case 2:
		sh := 2 * (i % 4)
		t.Data[i/4] = t.Data[i/4]&^(0x3<<sh) | byte(v&0x3)<<sh
	default:
		panic("setRawSmall on " + t.DType.String())
	}
}

// SetFloat stores v into element i, rounding to the element type; integer
// types truncate toward zero (ONNX Cast semantics) and wrap.
func (t *Tensor) SetFloat(i int, v float64) {
	switch t.DType {
	case Float32:
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(v)))
	case Float64:
		binary.LittleEndian.PutUint64(t.Data[8*i:], math.Float64bits(v))
	case Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0, Float4E2M1:
		t.setRawSmall(i, Float64ToSmallFloat(t.DType, v, true))
	case Bool:
		if v != 0 {
			t.Data[i] = 1
		} else {
			t.Data[i] = 0
		}
	case Uint64:
		t.SetUint(i, FloatToUint64(v))
	default:
		t.SetInt(i, FloatToInt64(v))
	}
}

// FloatToInt64 converts like a C cast, but defined for every input: NaN
// gives 0 and out-of-range values saturate.
func FloatToInt64(v float64) int64 {
	switch {
	case v != v:
		return 0
	case v >= 9.223372036854775807e18:
		return math.MaxInt64
	case v <= -9.223372036854775808e18:
		return math.MinInt64
	}
	return int64(v)
}

// FloatToUint64 is FloatToInt64 for unsigned targets.
func FloatToUint64(v float64) uint64 {
	switch {
	case v != v || v <= 0:
		if v <= -1 {
			return uint64(FloatToInt64(v))
		}
		return 0
	case v >= 1.8446744073709551615e19:
		return math.MaxUint64
	}
	return uint64(v)
}

// Int reads element i of an integer or bool tensor (floats truncate).
func (t *Tensor) Int(i int) int64 {
	d := t.Data
	switch t.DType {
	case Int64:
		return int64(binary.LittleEndian.Uint64(d[8*i:]))
	case Uint64:
		return int64(binary.LittleEndian.Uint64(d[8*i:]))
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(d[4*i:])))
	case Uint32:
		return int64(binary.LittleEndian.Uint32(d[4*i:]))
	case Int16:
		return int64(int16(binary.LittleEndian.Uint16(d[2*i:])))
	case Uint16:
		return int64(binary.LittleEndian.Uint16(d[2*i:]))
	case Int8:
		return int64(int8(d[i]))
	case Uint8, Bool:
		return int64(d[i])
	case Int4:
		return int64(int32(t.rawSmall(i)<<28) >> 28)
	case Uint4, Uint2:
		return int64(t.rawSmall(i))
	case Int2:
		return int64(int32(t.rawSmall(i)<<30) >> 30)
	default:
		return FloatToInt64(t.Float(i))
	}
}

// Uint reads element i as uint64 (meaningful for unsigned types).
func (t *Tensor) Uint(i int) uint64 { return uint64(t.Int(i)) }

// SetInt stores v into element i, wrapping to the element width.
func (t *Tensor) SetInt(i int, v int64) {
	d := t.Data
	switch t.DType {
	case Int64, Uint64:
		binary.LittleEndian.PutUint64(d[8*i:], uint64(v))
	case Int32, Uint32:
		binary.LittleEndian.PutUint32(d[4*i:], uint32(v))
	case Int16, Uint16:
		binary.LittleEndian.PutUint16(d[2*i:], uint16(v))
	case Int8, Uint8:
		d[i] = byte(v)
	case Bool:
		if v != 0 {
			d[i] = 1
		} else {
			d[i] = 0
		}
	case Int4, Uint4, Int2, Uint2:
		t.setRawSmall(i, uint32(v))
	default:
		t.SetFloat(i, float64(v))
	}
}

// SetUint stores v into element i of an unsigned tensor.
func (t *Tensor) SetUint(i int, v uint64) { t.SetInt(i, int64(v)) }

// Ints returns the elements of an integer tensor as []int (for shape inputs).
func (t *Tensor) Ints() []int {
	out := make([]int, t.Len())
	for i := range out {
		out[i] = int(t.Int(i))
	}
	return out
}

// Scalar builders, used by importers and folding.
func ScalarF32(v float32) *Tensor {
	t := NewTensor(Float32, nil)
	t.F32()[0] = v
	return t
}

// TensorI64 builds an int64 tensor of the given shape (nil shape = 1-D).
func TensorI64(shape Shape, vals ...int64) *Tensor {
	if shape == nil {
		shape = Shape{len(vals)}
	}
	t := NewTensor(Int64, shape)
	copy(t.I64(), vals)
	return t
}

// TensorF32 builds a float32 tensor of the given shape.
func TensorF32(shape Shape, vals ...float32) *Tensor {
	t := NewTensor(Float32, shape)
	copy(t.F32(), vals)
	return t
}

// Convert returns t converted element-wise to dt (Cast semantics, saturating
// for float8).
func (t *Tensor) Convert(dt DType) *Tensor {
	if t.DType == dt {
		return t.Clone()
	}
	o := NewTensor(dt, t.Shape)
	n := t.Len()
	switch {
	case dt.IsFloat():
		for i := 0; i < n; i++ {
			if t.DType == Uint64 {
				o.SetFloat(i, float64(t.Uint(i)))
			} else {
				o.SetFloat(i, t.Float(i))
			}
		}
	case t.DType.IsFloat():
		for i := 0; i < n; i++ {
			o.SetFloat(i, t.Float(i))
		}
	default:
		for i := 0; i < n; i++ {
			o.SetInt(i, t.Int(i))
		}
	}
	return o
}
