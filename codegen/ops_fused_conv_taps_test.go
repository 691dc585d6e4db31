package codegen

import (
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// TestTapConvPlan checks which stride-1 convolutions the portable shape
// runs as taps over regions, and the regions' taps: a tap is computed only
// where it reads inside the input.
func TestTapConvPlan(t *testing.T) {
	k := &Ctx{md: &module{opts: Options{SIMD: true, Tune: tune.Portable}}}
	cases := []struct {
		name                string
		C, H, W, M, kk, pad int
		dil                 int
		taps                bool // the tap form is chosen
		used                int  // taps any region computes
		maxTaps             int  // the most taps of one region
	}{
		{"ASPP dilation 12", 320, 32, 32, 256, 3, 12, 12, true, 9, 9},
		{"ASPP dilation 24", 320, 32, 32, 256, 3, 24, 24, true, 9, 4},
		{"ASPP dilation 36: centre only", 320, 32, 32, 256, 3, 36, 36, true, 1, 1},
		{"3x3 on 7x7, 512 channels", 512, 7, 7, 512, 3, 1, 1, true, 9, 9},
		{"5x5 on one channel: im2col", 1, 28, 28, 8, 5, 2, 1, false, 0, 0},
		{"64 channels, dilation 8 (kernel tests)", 64, 16, 16, 8, 3, 8, 8, true, 9, 4},
		{"64 channels, dilation 12 (testdata/ort)", 64, 32, 32, 8, 3, 12, 12, true, 9, 9},
		{"64 channels, dilation 24 (testdata/ort)", 64, 32, 32, 12, 3, 24, 24, true, 9, 4},
		{"8 channels, dilation 12: im2col", 8, 32, 32, 16, 3, 12, 12, false, 0, 0},
	}
	for _, c := range cases {
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, c.C, c.H, c.W}})
		op := &ir.FusedConv{Conv: ir.Conv{Window: ir.Window{Pads: []int{c.pad, c.pad, c.pad, c.pad}, Dilations: []int{c.dil, c.dil}}, Group: 1}, Layout: ir.WeightsPackA, WShape: ir.Shape{c.M, c.C, c.kk, c.kk}}
		n := &ir.Node{Op: op, Inputs: []*ir.Value{x, {}}, Outputs: []*ir.Value{{}}}
		p, ok := planTapConv(k, n, op)
		if ok != c.taps {
			t.Errorf("%s: tap form %v, want %v", c.name, ok, c.taps)
			continue
		}
		if !ok {
			continue
		}
		most := 0
		for _, r := range p.regions {
			most = max(most, len(r.taps))
		}
		if len(p.used) != c.used || most != c.maxTaps {
			t.Errorf("%s: %d taps used, at most %d per region; want %d, %d", c.name, len(p.used), most, c.used, c.maxTaps)
		}
	}
}
