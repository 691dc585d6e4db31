package host

import (
	"encoding/binary"
	"fmt"

	"github.com/mlc-compiler/mlc/abi"
)

// Tensor is a model input or output as a host exchanges it with a module:
// a numpy dtype name, a shape, and the elements in C (row-major) order as
// little-endian bytes, exactly as they sit in the module's memory. It is
// the host's own type: running a module needs nothing of the compiler.
type Tensor struct {
	// DType is numpy's name for the element type ("float32", "int64",
	// "uint8", "bool", "float16", ...), as in the module's metadata.
	DType string
	Shape []int
	// Data holds the elements; sub-byte types pack the low bits first.
	Data []byte
}

// Element is a Go type with a numpy dtype (see New and Values).
type Element interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | bool
}

// DTypeBits returns the storage bits of one element of dtype, and whether
// the name is known (the names the module ABI defines).
func DTypeBits(dtype string) (int, bool) {
	b, ok := abi.DTypeBits[dtype]
	return b, ok
}

// DTypeOf is the dtype name of the Go type T.
func DTypeOf[T Element]() string {
	var z T
	switch any(z).(type) {
	case float32:
		return "float32"
	case float64:
		return "float64"
	case int8:
		return "int8"
	case int16:
		return "int16"
	case int32:
		return "int32"
	case int64:
		return "int64"
	case uint8:
		return "uint8"
	case uint16:
		return "uint16"
	case uint32:
		return "uint32"
	case uint64:
		return "uint64"
	default:
		return "bool"
	}
}

// numElements is the product of shape, or an error for a negative dimension.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s has a negative dimension", ShapeString(shape))
		}
		n *= d
	}
	return n, nil
}

// Zeros returns a tensor of zeros.
func Zeros(dtype string, shape []int) (*Tensor, error) {
	bits, ok := abi.DTypeBits[dtype]
	if !ok {
		return nil, fmt.Errorf("unknown dtype %q", dtype)
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{DType: dtype, Shape: append([]int{}, shape...), Data: make([]byte, (n*bits+7)/8)}, nil
}

// New builds a tensor from values in C order; len(values) must be the
// product of shape (1 for a scalar, whose shape is empty).
func New[T Element](shape []int, values []T) (*Tensor, error) {
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	if len(values) != n {
		return nil, fmt.Errorf("shape %s holds %d elements, got %d values", ShapeString(shape), n, len(values))
	}
	data, err := binary.Append(nil, binary.LittleEndian, values)
	if err != nil {
		return nil, err
	}
	return &Tensor{DType: DTypeOf[T](), Shape: append([]int{}, shape...), Data: data}, nil
}

// Values decodes the elements; T must match the tensor's dtype.
func Values[T Element](t *Tensor) ([]T, error) {
	if want := DTypeOf[T](); t.DType != want {
		return nil, fmt.Errorf("tensor is %s, not %s", t.DType, want)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return nil, err
	}
	out := make([]T, n)
	if _, err := binary.Decode(t.Data, binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return out, nil
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	n, _ := numElements(t.Shape)
	return n
}

// Check reports whether Data has the size DType and Shape call for.
func (t *Tensor) Check() error {
	bits, ok := abi.DTypeBits[t.DType]
	if !ok {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return err
	}
	if want := (n*bits + 7) / 8; len(t.Data) != want {
		return fmt.Errorf("%s needs %d bytes, has %d", t, want, len(t.Data))
	}
	return nil
}

// String describes the type, e.g. float32[1,3,224,224].
func (t *Tensor) String() string { return t.DType + ShapeString(t.Shape) }

// ShapeString writes a shape the way mlc prints shapes everywhere:
// [1,3,224,224], and [] for a scalar.
func ShapeString(shape []int) string {
	b := []byte{'['}
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", d)
	}
	return string(append(b, ']'))
}
