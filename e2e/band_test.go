package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestBandedConvEdges checks a 1x1 conv and its depthwise reader run in
// bands (opt's band pass, codegen's BandedConv) against the same model
// with the pass disabled: the outputs must be the same bytes. The shapes
// put band edges mid-row (odd widths: the 1x1's pixel blocks end inside a
// row), leave channels past the last group of four, and pad the
// depthwise window on every side, at stride 1 and 2.
func TestBandedConvEdges(t *testing.T) {
	wz, _ := threadRunners(t)
	rng := rand.New(rand.NewSource(21))
	for _, c := range []struct {
		name              string
		C, M, H, W        int
		stride, pad, kern int64
	}{
		{"s2_odd_width", 32, 13, 151, 143, 2, 1, 3},
		{"s2_even", 8, 24, 112, 112, 2, 1, 3},
		{"s1_odd", 24, 14, 141, 137, 1, 1, 3},
		{"s2_5x5_pad2", 40, 11, 161, 151, 2, 2, 5},
	} {
		// Heights a few rows apart end the last band at different rows
		// of a pixel block: some short, after a longer band.
		for dh := range 4 {
			c := c
			c.H += 3 * dh
			t.Run(fmt.Sprintf("%s_h%d", c.name, c.H), func(t *testing.T) {
				g := &onnxpb.GraphProto{
					Node: []*onnxpb.NodeProto{
						optest.Const("w1", randTensor(rng, ir.Float32, 1, c.M, c.C, 1, 1)),
						optest.Const("b1", randTensor(rng, ir.Float32, 1, c.M)),
						optest.Const("w2", randTensor(rng, ir.Float32, 1, c.M, 1, int(c.kern), int(c.kern))),
						optest.Const("b2", randTensor(rng, ir.Float32, 1, c.M)),
						optest.Const("lo", ir.FromFloats(ir.Float32, ir.Shape{}, []float64{0})),
						optest.Const("hi", ir.FromFloats(ir.Float32, ir.Shape{}, []float64{6})),
						optest.Op("Conv", []string{"x", "w1", "b1"}, []string{"p"}),
						optest.Op("Clip", []string{"p", "lo", "hi"}, []string{"q"}),
						optest.Op("Conv", []string{"q", "w2", "b2"}, []string{"d"}, optest.Int("group", int64(c.M)),
							optest.Ints("pads", c.pad, c.pad, c.pad, c.pad), optest.Ints("strides", c.stride, c.stride)),
						optest.Op("Clip", []string{"d", "lo", "hi"}, []string{"y"}),
					},
					Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, c.C, c.H, c.W)},
					Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)},
				}
				model := optest.GraphModel(13, g)
				feed := map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 2, 1, c.C, c.H, c.W)}
				var outs [][]byte
				for _, disable := range [][]string{nil, {"band"}} {
					o := mlc.DefaultOptions()
					o.Debug.Disable = disable
					res, err := mlc.Compile(model, "", o)
					if err != nil {
						t.Fatal(err)
					}
					banded := false
					res.Graph.Walk(func(n *ir.Node) { banded = banded || n.Op.OpType() == "BandedConv" })
					if banded != (disable == nil) {
						t.Fatalf("band pass disabled %v, BandedConv in the graph %v", disable != nil, banded)
					}
					out, err := wz.Run(context.Background(), res.Wasm, []map[string]*ir.Tensor{feed})
					if err != nil {
						t.Fatal(err)
					}
					outs = append(outs, out[0]["y"].Data)
				}
				if !bytes.Equal(outs[0], outs[1]) {
					t.Error("banded outputs differ from the two nodes'")
				}
			})
		}
	}
}
