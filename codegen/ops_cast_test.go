package codegen_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// castDTypes are every dtype a Cast kernel handles (all but string).
var castDTypes = []ir.DType{
	ir.Float32, ir.Float64, ir.Float16, ir.BFloat16, ir.Int8, ir.Int16, ir.Int32, ir.Int64,
	ir.Uint8, ir.Uint16, ir.Uint32, ir.Uint64, ir.Bool, ir.Float8E4M3FN, ir.Float8E4M3FNUZ,
	ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0, ir.Float4E2M1, ir.Int4, ir.Uint4, ir.Int2, ir.Uint2,
}

// castInput holds every code of types up to 16 bits; wider types get
// special values, values at the rounding boundaries of the narrow float
// formats, and random bit patterns.
func castInput(dt ir.DType) *ir.Tensor {
	r := rand.New(rand.NewPCG(1, uint64(dt)))
	if dt == ir.Bool {
		t := ir.NewTensor(dt, ir.Shape{2})
		t.Data[1] = 1
		return t
	}
	if b := dt.Bits(); b <= 16 {
		n := 1 << b
		t := ir.NewTensor(dt, ir.Shape{n})
		for i := range n {
			switch {
			case b == 16:
				binary.LittleEndian.PutUint16(t.Data[2*i:], uint16(i))
			case b == 8:
				t.Data[i] = byte(i)
			default:
				t.SetInt(i, int64(i))
			}
		}
		return t
	}
	var fs []float64
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.5, 2.5, -2.5, 3.5, 1e-7, -1e-7, 1e6, -1e6, 65504, 65520,
		448, 464, 465, 57344, 61440, 240, 248, 6, 7, 1e30, -1e30, 1e300, 3e9, -3e9, 1e19, -1e19, 2e19, 127.5, -128.5, 255.5, 256.5,
		math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 5.877471754111438e-39} {
		fs = append(fs, v)
	}
	// Midpoints of adjacent values of each narrow float format, and their
	// neighbours: the cases rounding (and double rounding) gets wrong.
	for _, nt := range []ir.DType{ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float4E2M1} {
		tab := ir.SmallFloatDecodeTable(nt)
		for c := 0; c+1 < len(tab)/2; c++ {
			a, b := float64(tab[c]), float64(tab[c+1])
			if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(b, 0) {
				continue
			}
			m := (a + b) / 2
			fs = append(fs, m, -m, math.Nextafter(m, 0), math.Nextafter(m, 100), m*(1+1e-12), m*(1-1e-12))
		}
	}
	for _, m := range []float64{1 + 1.0/2048, 1 + 3.0/2048, 1 + 1.0/256, 1 + 3.0/256, 1.5 * 1024} {
		fs = append(fs, m, m+1e-12, m-1e-12, -m-1e-12)
	}
	n := len(fs) + 2048
	t := ir.NewTensor(dt, ir.Shape{n})
	for i := range n {
		switch {
		case i < len(fs) && dt.IsFloat():
			t.SetFloat(i, fs[i])
		case i < len(fs):
			t.SetInt(i, ir.FloatToInt64(fs[i]))
		case dt.IsFloat() && dt.Bits() == 32:
			binary.LittleEndian.PutUint32(t.Data[4*i:], r.Uint32())
		case dt.Bits() == 32:
			binary.LittleEndian.PutUint32(t.Data[4*i:], r.Uint32()>>(r.IntN(32)))
		case dt.IsFloat():
			// float64: mostly values in float32's range.
			v := math.Ldexp(r.Float64()*2-1, r.IntN(300)-150)
			t.SetFloat(i, v)
		default:
			binary.LittleEndian.PutUint64(t.Data[8*i:], r.Uint64()>>(r.IntN(64)))
		}
	}
	return t
}

// TestCastKernel compares the Cast kernel with ir.CastTensor for every pair
// of dtypes, every saturate value and every e8m0 round mode.
func TestCastKernel(t *testing.T) {
	for _, src := range castDTypes {
		x := castInput(src)
		for _, dst := range castDTypes {
			type variant struct {
				sat  int64
				mode string
			}
			variants := []variant{{1, "up"}}
			switch dst {
			case ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ:
				variants = append(variants, variant{0, "up"})
			case ir.Float8E8M0:
				variants = []variant{{1, "up"}, {0, "up"}, {1, "down"}, {0, "down"}, {1, "nearest"}, {0, "nearest"}}
			}
			for _, v := range variants {
				t.Run(src.String()+"_to_"+dst.String(), func(t *testing.T) {
					t.Parallel()
					optest.Check(t, optest.Node{
						Op: "Cast", Opset: 25, Inputs: []string{"x"}, Outputs: []string{"y"},
						Attrs: []*onnxpb.AttributeProto{optest.DType("to", dst), optest.Int("saturate", v.sat), optest.String("round_mode", v.mode)},
					}, map[string]*ir.Tensor{"x": x}, nil)
				})
			}
		}
	}
}
