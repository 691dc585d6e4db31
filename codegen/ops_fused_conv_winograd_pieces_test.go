package codegen_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/tune"
)

// TestWinogradPieces: a Winograd layer reading Concat(Resize(a), b) (a
// U-Net decoder level) as pieces, the upsampling computed per band, gives
// the bits of the same graph with the Concat and the upsampled map
// materialized, and the graph's reference within tolerance: bands inside
// the image and edge bands (160x160, 160x168: one piece or both upsampled,
// the upsampled piece first or last), bands that all copy their rows
// (72x72, 72x80, 64x64 in two bands), a batch of two (not pieces), and
// threaded modules (every loop split; also the 1-thread module's bits); the same for nearest-mode upsamplings under several
// coordinate transforms and roundings.
func TestWinogradPieces(t *testing.T) {
	cases := []struct {
		ca, cb, H, W, M int
		order           string // "ab": Concat(Resize(a), b); "ba"; "aa": both upsampled
		batch, threads  int
		pieces          bool
		mode            string // the Resize's: "" (linear, half_pixel), or "nearest" with its coordinate transform and rounding
		coord, round    string
		sw              float32 // the width's scale (0: 2)
	}{
		{8, 8, 160, 160, 16, "ab", 1, 1, true, "", "", "", 0},
		{8, 4, 72, 72, 8, "ba", 1, 1, true, "", "", "", 0},
		{4, 4, 72, 80, 8, "aa", 1, 1, true, "", "", "", 0},
		{16, 8, 64, 64, 16, "ab", 1, 1, true, "", "", "", 0},
		{8, 4, 160, 168, 8, "ba", 1, 1, true, "", "", "", 0},
		{4, 4, 160, 160, 8, "aa", 1, 1, true, "", "", "", 0},
		{8, 8, 160, 160, 16, "ab", 2, 1, false, "", "", "", 0},
		{8, 8, 160, 160, 16, "ab", 1, 2, true, "", "", "", 0},
		{4, 4, 72, 80, 8, "aa", 1, 2, true, "", "", "", 0},
		{16, 8, 64, 64, 16, "ab", 1, 2, true, "", "", "", 0},
		// nearest upsamplings (a U-Net's Upsample or Resize mode=nearest)
		{8, 8, 160, 160, 16, "ab", 1, 1, true, "nearest", "asymmetric", "floor", 0},
		{8, 4, 72, 72, 8, "ba", 1, 1, true, "nearest", "half_pixel", "round_prefer_ceil", 0},
		{4, 4, 72, 80, 8, "aa", 1, 1, true, "nearest", "asymmetric", "floor", 0},
		{8, 4, 160, 168, 8, "ba", 1, 1, true, "nearest", "align_corners", "round_prefer_floor", 0},
		{16, 8, 64, 64, 16, "ab", 1, 1, true, "nearest", "tf_half_pixel_for_nn", "ceil", 0},
		{8, 8, 160, 160, 16, "ab", 2, 1, false, "nearest", "asymmetric", "floor", 0},
		{8, 8, 160, 160, 16, "ab", 1, 2, true, "nearest", "asymmetric", "floor", 0},
		// rows only (each row copied whole), columns halved (lane loads)
		{8, 8, 160, 160, 16, "ab", 1, 1, true, "nearest", "asymmetric", "floor", 1},
		{8, 4, 160, 168, 8, "ba", 1, 1, true, "nearest", "half_pixel", "round_prefer_floor", 0.5},
	}
	ctx, rt := testRuntime(t)
	for _, c := range cases {
		name := fmt.Sprintf("%+v", c)
		build := func(pieces bool, threads int) (*ir.Graph, []byte) {
			r := rand.New(rand.NewSource(int64(c.H*100 + c.M)))
			sw := c.sw
			if sw == 0 {
				sw = 2
			}
			aw := int(float32(c.W) / sw)
			a := ir.NewInput("a", ir.Type{DType: ir.Float32, Shape: ir.Shape{c.batch, c.ca, c.H / 2, aw}})
			bShape := ir.Shape{c.batch, c.cb, c.H, c.W}
			if c.order == "aa" {
				bShape = ir.Shape{c.batch, c.cb, c.H / 2, aw}
			}
			b := ir.NewInput("b", ir.Type{DType: ir.Float32, Shape: bShape})
			scales := ir.NewTensor(ir.Float32, ir.Shape{4})
			copy(scales.F32(), []float32{1, 1, 2, sw})
			up := func(x *ir.Value, name string) (*ir.Node, *ir.Value) {
				y := &ir.Value{Name: name}
				op := &ir.Resize{Mode: "linear", CoordMode: "half_pixel", NearestMode: "floor", CubicA: -0.75, KeepAspect: "stretch"}
				if c.mode != "" {
					op.Mode, op.CoordMode, op.NearestMode = c.mode, c.coord, c.round
				}
				return &ir.Node{Op: op,
					Inputs: []*ir.Value{x, nil, ir.NewConst(name+"_scales", scales)}, Outputs: []*ir.Value{y}}, y
			}
			ra, ua := up(a, "ua")
			nodes := []*ir.Node{ra}
			ins := []*ir.Value{ua, b}
			switch c.order {
			case "ba":
				ins = []*ir.Value{b, ua}
			case "aa":
				rb, ub := up(b, "ub")
				nodes = append(nodes, rb)
				ins = []*ir.Value{ua, ub}
			}
			x, y, z := &ir.Value{Name: "x"}, &ir.Value{Name: "y"}, &ir.Value{Name: "z"}
			C := c.ca + c.cb
			w := randomConst("w", ir.Shape{c.M, C, 3, 3}, r.Int63())
			bias := randomConst("bias", ir.Shape{c.M}, r.Int63())
			conv := &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}, Strides: []int{1, 1}, Dilations: []int{1, 1}}, Group: 1}
			nodes = append(nodes,
				&ir.Node{Op: &ir.Concat{Axis: 1}, Inputs: ins, Outputs: []*ir.Value{x}},
				&ir.Node{Op: conv, Inputs: []*ir.Value{x, w, bias}, Outputs: []*ir.Value{y}},
				&ir.Node{Op: &ir.Unary{Fn: ir.FnRelu}, Inputs: []*ir.Value{y}, Outputs: []*ir.Value{z}})
			g := &ir.Graph{Inputs: []*ir.Value{a, b}, Outputs: []*ir.Value{z}, Nodes: nodes}
			if err := ir.InferGraph(g); err != nil {
				t.Fatal(err)
			}
			o := opt.Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.Portable), Workspace: codegen.WorkspaceFunc(threads)}
			if pieces {
				o.ReadsPieces = codegen.ReadsPieces
			}
			plan, err := opt.Run(g, o)
			if err != nil {
				t.Fatal(err)
			}
			wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: true, Tune: tune.Portable, Threads: threads, ParallelAll: threads > 1, Producer: "test"})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return g, wasm
		}
		g, with := build(true, c.threads)
		lazy := 0
		for _, n := range g.Nodes {
			if n.Lazy {
				lazy++
			}
		}
		if want := map[bool]int{true: map[bool]int{true: 3, false: 2}[c.order == "aa"], false: 0}[c.pieces]; lazy != want {
			t.Errorf("%s: %d lazy nodes, want %d", name, lazy, want)
		}
		_, without := build(false, c.threads)
		if c.pieces && bytes.Equal(with, without) {
			t.Errorf("%s: the pieces form is the same module", name)
		}
		r := rand.New(rand.NewSource(1))
		feeds := map[string]*ir.Tensor{}
		env := ir.Env{}
		for _, v := range g.Inputs {
			tv := ir.NewTensor(ir.Float32, v.Type.Shape)
			for i := range tv.F32() {
				tv.F32()[i] = r.Float32()*2 - 1
			}
			feeds[v.Name], env[v] = tv, tv
		}
		want, err := ir.Run(g, env)
		if err != nil {
			t.Fatal(err)
		}
		var outs [][]float32
		mods := [][]byte{with, without}
		if c.threads > 1 {
			// and the 1-thread module's bits
			_, one := build(false, 1)
			mods = append(mods, one)
		}
		for _, wasm := range mods {
			m, err := rt.Load(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			out, err := hostir.Run(ctx, m, feeds)
			m.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out["z"].F32())
		}
		ref := want[0].F32()
		for i := range ref {
			if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Errorf("%s: element %d is %g, %g without pieces", name, i, outs[0][i], outs[1][i])
				break
			}
			if len(outs) > 2 && math.Float32bits(outs[0][i]) != math.Float32bits(outs[2][i]) {
				t.Errorf("%s: element %d is %g, %g in the 1-thread module", name, i, outs[0][i], outs[2][i])
				break
			}
			if d := math.Abs(float64(outs[0][i] - ref[i])); d > 1e-4+1e-4*math.Abs(float64(ref[i])) {
				t.Errorf("%s: element %d is %g, want %g", name, i, outs[0][i], ref[i])
				break
			}
		}
	}
}
