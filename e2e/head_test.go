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

// TestHeadedConvBits checks a Winograd layer and the 1x1 convolution to
// one channel that reads it, run as one HeadedConv (opt's head pass: the
// head computed on each band of the layer's output), against the same
// model with the pass disabled, and against the modules compiled for two
// threads (headed where the layer has two bands a thread, else apart):
// the outputs must be the same bytes. The shapes end the last band short (heights no multiple of 4),
// leave pixels past the last group of 16 and of 4 (odd widths), give the
// head a bias or none and an activation, and read the layer's input as a
// Concat's pieces (one upsampled) or whole.
func TestHeadedConvBits(t *testing.T) {
	wz, _ := threadRunners(t)
	rng := rand.New(rand.NewSource(33))
	threadedHeads := map[bool]int{}
	defer func() {
		if threadedHeads[true] == 0 || threadedHeads[false] == 0 {
			t.Errorf("2-thread modules headed / not: %d / %d, want some of each", threadedHeads[true], threadedHeads[false])
		}
	}()
	for _, c := range []struct {
		name       string
		C, M, H, W int
		bias, sig  bool
		pieces     bool
	}{
		{"16_odd", 16, 16, 130, 131, true, true, false},
		{"12_24_wide", 12, 24, 97, 259, false, true, false},
		{"32_64", 32, 64, 66, 67, true, false, false},
		{"8_16_even", 8, 16, 128, 128, true, false, false},
		{"pieces", 16, 16, 130, 134, true, true, true},
	} {
		for dh := range 3 {
			c := c
			c.H += dh
			if c.pieces {
				c.H += dh // even heights: the upsampled half is H/2 rows
			}
			t.Run(fmt.Sprintf("%s_h%d", c.name, c.H), func(t *testing.T) {
				nodes := []*onnxpb.NodeProto{
					optest.Const("w1", randTensor(rng, ir.Float32, 0.3, c.M, c.C, 3, 3)),
					optest.Const("b1", randTensor(rng, ir.Float32, 1, c.M)),
					optest.Const("w2", randTensor(rng, ir.Float32, 0.5, 1, c.M, 1, 1)),
				}
				in := []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, c.C, c.H, c.W)}
				feed := map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 2, 1, c.C, c.H, c.W)}
				x := "x"
				if c.pieces {
					// half the channels upsampled from a map of half the size
					h := c.C / 2
					in = []*onnxpb.ValueInfoProto{optest.Value("lo", ir.Float32, 1, h, c.H/2, c.W/2), optest.Value("skip", ir.Float32, 1, h, c.H, c.W)}
					feed = map[string]*ir.Tensor{"lo": randTensor(rng, ir.Float32, 2, 1, h, c.H/2, c.W/2), "skip": randTensor(rng, ir.Float32, 2, 1, h, c.H, c.W)}
					nodes = append(nodes,
						optest.Const("scales", ir.FromFloats(ir.Float32, ir.Shape{4}, []float64{1, 1, 2, 2})),
						optest.Op("Resize", []string{"lo", "", "scales"}, []string{"up"}, optest.String("mode", "linear")),
						optest.Op("Concat", []string{"up", "skip"}, []string{"cat"}, optest.Int("axis", 1)))
					x = "cat"
				}
				// Where the head's rows end on a 16-byte boundary, they go in
				// place into a graph output joined with a map computed before
				// them (memplan's Concat slots), so that a head writing past
				// its rows spoils that map.
				guard := c.H*c.W%4 == 0
				if guard {
					src, zc := x, c.C
					if c.pieces {
						src, zc = "skip", c.C/2
					}
					nodes = append(nodes, optest.Const("wz", randTensor(rng, ir.Float32, 1, 1, zc, 1, 1)),
						optest.Op("Conv", []string{src, "wz"}, []string{"z"}))
				}
				nodes = append(nodes,
					optest.Op("Conv", []string{x, "w1", "b1"}, []string{"c1"}, optest.Ints("pads", 1, 1, 1, 1)),
					optest.Op("Relu", []string{"c1"}, []string{"r1"}))
				head := []string{"r1", "w2"}
				if c.bias {
					nodes = append(nodes, optest.Const("b2", randTensor(rng, ir.Float32, 1, 1)))
					head = append(head, "b2")
				}
				out := "y"
				if guard {
					out = "yh"
				}
				if c.sig {
					nodes = append(nodes, optest.Op("Conv", head, []string{"h"}), optest.Op("Sigmoid", []string{"h"}, []string{out}))
				} else {
					nodes = append(nodes, optest.Op("Conv", head, []string{out}))
				}
				if guard {
					nodes = append(nodes, optest.Op("Concat", []string{"yh", "z"}, []string{"y"}, optest.Int("axis", 2)))
				}
				g := &onnxpb.GraphProto{Node: nodes, Input: in, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)}}
				model := optest.GraphModel(13, g)
				var outs [][]byte
				for i, v := range []struct {
					disable []string
					threads int
					headed  bool
				}{{nil, 1, true}, {[]string{"head"}, 1, false}, {nil, 2, true}, {[]string{"head"}, 2, false}} {
					o := mlc.DefaultOptions()
					o.Debug.Disable = v.disable
					o.Threads, o.ParallelAll = v.threads, v.threads > 1
					res, err := mlc.Compile(model, "", o)
					if err != nil {
						t.Fatal(err)
					}
					headed, lazy := false, false
					res.Graph.Walk(func(n *ir.Node) {
						headed = headed || n.Op.OpType() == "HeadedConv"
						lazy = lazy || n.Lazy
					})
					if v.threads > 1 && v.headed {
						// two bands a thread or more
						threadedHeads[headed]++
					} else if headed != v.headed {
						t.Fatalf("module %d: HeadedConv in the graph %v, want %v", i, headed, v.headed)
					}
					if lazy != c.pieces {
						t.Fatalf("module %d: the layer reads pieces %v, want %v", i, lazy, c.pieces)
					}
					o1, err := wz.Run(context.Background(), res.Wasm, []map[string]*ir.Tensor{feed})
					if err != nil {
						t.Fatal(err)
					}
					outs = append(outs, o1[0]["y"].Data)
				}
				for i, name := range []string{"the two nodes'", "the 2-thread module's", "the 2-thread unheaded module's"} {
					if !bytes.Equal(outs[0], outs[i+1]) {
						t.Errorf("the headed module's outputs differ from %s", name)
					}
				}
			})
		}
	}
}
