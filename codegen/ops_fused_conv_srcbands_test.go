package codegen_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// TestSrcBandsBits: convolutions whose col exceeds 2 MiB, unfolded in bands
// straight from the unpadded input, give the bits of the whole image's col
// from a padded copy (the same col values, the same K chunks), over
// strides 1-3, kernels 3x3-7x7, dilation, asymmetric pads, odd and narrow
// widths and 1-128 input channels; and both are within tolerance of the
// reference Conv.
func TestSrcBandsBits(t *testing.T) {
	if testing.Short() {
		t.Skip("large one-node convolutions")
	}
	cases := []convGeo{
		{3, 512, 512, 16, 3, 2, 1, [4]int{1, 1, 1, 1}}, // a stem
		{3, 301, 257, 12, 3, 2, 1, [4]int{1, 1, 1, 1}},
		{3, 224, 224, 8, 7, 2, 1, [4]int{3, 3, 3, 3}}, // a 7x7 stem
		{3, 230, 197, 8, 7, 2, 1, [4]int{2, 3, 4, 1}},
		{128, 56, 56, 16, 3, 2, 1, [4]int{1, 1, 1, 1}},
		{4, 300, 300, 8, 5, 3, 1, [4]int{2, 1, 0, 2}},
		{1, 400, 400, 8, 5, 1, 1, [4]int{2, 2, 2, 2}},
		{3, 400, 400, 8, 3, 2, 2, [4]int{2, 2, 2, 2}},
		{3, 512, 512, 8, 4, 2, 1, [4]int{0, 0, 0, 0}},
		{3, 400, 256, 8, 3, 2, 1, [4]int{1, 1, 2, 2}},
		{1, 40000, 6, 4, 3, 2, 1, [4]int{1, 1, 1, 1}}, // fewer outputs than a SIMD group per row
	}
	defer codegen.SetSrcBandsOff(false)
	convFormsBits(t, cases, []string{tune.Portable, tune.V8}, [2]string{"from the padded copy", "in source bands"},
		func(bands bool) { codegen.SetSrcBandsOff(!bands) })
}

// convGeo is a 2-D convolution's geometry: input channels, map, output
// channels, square kernel, stride, dilation and pads.
type convGeo struct {
	C, H, W, M, k, stride, dil int
	pads                       [4]int // top, left, bottom, right
}

// convFormsBits runs a one-Conv graph of each geometry in each tune in
// the two forms set chooses (formsSameBits) and requires the same bits.
func convFormsBits(t *testing.T, cases []convGeo, tunes []string, forms [2]string, set func(second bool)) {
	t.Helper()
	ctx, rt := testRuntime(t)
	for _, c := range cases {
		for _, tn := range tunes {
			name := fmt.Sprintf("%+v/%s", c, tn)
			r := rand.New(rand.NewSource(int64(c.C*1000 + c.H*10 + c.W)))
			x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, c.C, c.H, c.W}})
			w := randomConst("w", ir.Shape{c.M, c.C, c.k, c.k}, r.Int63())
			b := randomConst("b", ir.Shape{c.M}, r.Int63())
			op := &ir.Conv{Window: ir.Window{Pads: c.pads[:], Strides: []int{c.stride, c.stride}, Dilations: []int{c.dil, c.dil}}, Group: 1}
			z := &ir.Value{Name: "z"}
			g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{z}, Nodes: []*ir.Node{
				{Name: "conv", Op: op, Inputs: []*ir.Value{x, w, b}, Outputs: []*ir.Value{z}},
			}}
			formsSameBits(ctx, t, rt, g, r, tn, name, "the Conv", forms, set, 1e-4)
		}
	}
}
