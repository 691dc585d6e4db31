package ir

import "fmt"

// DType is a tensor element type. Names follow numpy (float32, int64, bool)
// because the module ABI and .npy files use them; the ml_dtypes names are used
// for the types numpy lacks (bfloat16, float8_e4m3fn, int4, ...).
type DType uint8

const (
	Invalid DType = iota
	Float32
	Float64
	Float16
	BFloat16
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Bool
	Float8E4M3FN
	Float8E4M3FNUZ
	Float8E5M2
	Float8E5M2FNUZ
	Float8E8M0
	Float4E2M1
	Int4
	Uint4
	Int2
	Uint2
	String
	numDTypes
)

type dtypeInfo struct {
	name string
	bits int // storage bits per element; sub-byte types pack low nibble first
	kind dtypeKind
}

type dtypeKind uint8

const (
	kindFloat dtypeKind = iota
	kindSigned
	kindUnsigned
	kindBool
	kindString
)

var dtypes = [numDTypes]dtypeInfo{
	Invalid:        {"invalid", 0, kindFloat},
	Float32:        {"float32", 32, kindFloat},
	Float64:        {"float64", 64, kindFloat},
	Float16:        {"float16", 16, kindFloat},
	BFloat16:       {"bfloat16", 16, kindFloat},
	Int8:           {"int8", 8, kindSigned},
	Int16:          {"int16", 16, kindSigned},
	Int32:          {"int32", 32, kindSigned},
	Int64:          {"int64", 64, kindSigned},
	Uint8:          {"uint8", 8, kindUnsigned},
	Uint16:         {"uint16", 16, kindUnsigned},
	Uint32:         {"uint32", 32, kindUnsigned},
	Uint64:         {"uint64", 64, kindUnsigned},
	Bool:           {"bool", 8, kindBool},
	Float8E4M3FN:   {"float8_e4m3fn", 8, kindFloat},
	Float8E4M3FNUZ: {"float8_e4m3fnuz", 8, kindFloat},
	Float8E5M2:     {"float8_e5m2", 8, kindFloat},
	Float8E5M2FNUZ: {"float8_e5m2fnuz", 8, kindFloat},
	Float8E8M0:     {"float8_e8m0fnu", 8, kindFloat},
	Float4E2M1:     {"float4_e2m1fn", 4, kindFloat},
	Int4:           {"int4", 4, kindSigned},
	Uint4:          {"uint4", 4, kindUnsigned},
	Int2:           {"int2", 2, kindSigned},
	Uint2:          {"uint2", 2, kindUnsigned},
	String:         {"string", 0, kindString},
}

func (d DType) String() string {
	if d >= numDTypes {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypes[d].name
}

// Bits is the storage size of one element in bits.
func (d DType) Bits() int { return dtypes[d].bits }

// IsFloat reports floating-point types, float8 and float4 included.
func (d DType) IsFloat() bool { return d != Invalid && dtypes[d].kind == kindFloat }

// IsInt reports signed and unsigned integer types (not bool).
func (d DType) IsInt() bool { return dtypes[d].kind == kindSigned || dtypes[d].kind == kindUnsigned }

// IsSigned reports signed integer types.
func (d DType) IsSigned() bool { return dtypes[d].kind == kindSigned }

// IsUnsigned reports unsigned integer types.
func (d DType) IsUnsigned() bool { return dtypes[d].kind == kindUnsigned }

// Bytes is the byte size of n elements, rounding sub-byte types up.
func (d DType) Bytes(n int) int { return (n*dtypes[d].bits + 7) / 8 }

// ParseDType maps a numpy dtype name back to a DType.
func ParseDType(name string) (DType, bool) {
	for d := Float32; d < numDTypes; d++ {
		if dtypes[d].name == name {
			return d, true
		}
	}
	return Invalid, false
}
