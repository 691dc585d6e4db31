package codegen_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// The fused integer ops (QConv, QMatMul, QAdd) have no ONNX form: these
// tests build one-node IR graphs and compare the Wasm results, with and
// without SIMD, bit for bit with the reference interpreter.

func randQ(r *rand.Rand, dt ir.DType, shape ir.Shape) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	lo, hi := ir.QuantRange(dt)
	for i := 0; i < t.Len(); i++ {
		t.SetInt(i, lo+r.Int64N(hi-lo+1))
	}
	return t
}

func randF32(r *rand.Rand, n int, lo, hi float64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, ir.Shape{n})
	for i := range t.F32() {
		t.F32()[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return t
}

// checkFused compiles the graph built by mk (twice: once for the reference)
// with and without SIMD and compares the outputs with ir.Run's.
func checkFused(t *testing.T, mk func() (*ir.Graph, map[string]*ir.Tensor)) {
	t.Helper()
	g, feeds := mk()
	env := ir.Env{}
	for _, v := range g.Inputs {
		env[v] = feeds[v.Name]
	}
	want, err := ir.Run(g, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, rt := testRuntime(t)
	for _, simd := range []bool{true, false} {
		g, _ := mk()
		o := mlc.DefaultOptions()
		o.NoSIMD = !simd
		res, err := mlc.CompileGraph(g, o)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := rt.Load(ctx, res.Wasm)
		if err != nil {
			t.Fatal(err)
		}
		got, err := hostir.Run(ctx, mod, feeds)
		mod.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range g.Outputs {
			if msg := optest.Same(got[v.Name], want[i]); msg != "" {
				t.Errorf("simd=%v: %s", simd, msg)
			}
		}
	}
}

func qouts() []ir.QOut {
	inf := float32(math.Inf(1))
	return []ir.QOut{
		{DType: ir.Uint8, Zero: 3, Lo: -inf, Hi: inf},
		{DType: ir.Int8, Zero: -128, Lo: 0, Hi: inf},
		{DType: ir.Int8, Zero: -5, Leaky: true, Alpha: 0.2, Lo: -40, Hi: 90},
		{DType: ir.Float32, Lo: 0, Hi: 6},
		{DType: ir.Float32, Lo: -inf, Hi: inf},
		{DType: ir.Int16, Zero: 0, Lo: -inf, Hi: inf},
		{DType: ir.Int16, Zero: 0, Lo: 0, Hi: 6000},
	}
}

func TestQConvFused(t *testing.T) {
	type conv struct {
		c, m, h, w, k, stride, pad, group, dil int
	}
	cases := []conv{
		{3, 8, 9, 7, 3, 1, 1, 1, 1},
		{16, 12, 8, 8, 1, 1, 0, 1, 1},
		{6, 6, 10, 9, 3, 2, 1, 6, 1},
		{8, 10, 5, 6, 3, 1, 1, 2, 1},
		{17, 5, 6, 5, 1, 1, 0, 1, 1},
		{4, 9, 12, 11, 5, 1, 2, 1, 1},
		// depthwise: row tails, channel multiplier 2, 5x5, wide rows
		{8, 8, 20, 19, 3, 1, 1, 8, 1},
		{4, 8, 12, 37, 3, 2, 1, 4, 1},
		{5, 5, 9, 21, 5, 2, 2, 5, 1},
		{3, 3, 6, 40, 3, 1, 0, 3, 1},
		{6, 6, 11, 26, 3, 2, 2, 6, 2},
		{4, 4, 11, 20, 3, 1, 2, 4, 2},
	}
	for ci, cv := range cases {
		for oi, out := range qouts() {
			for _, xdt := range []ir.DType{ir.Uint8, ir.Int8, ir.Int16} {
				t.Run(fmt.Sprintf("%d/%d/%s", ci, oi, xdt), func(t *testing.T) {
					checkFused(t, func() (*ir.Graph, map[string]*ir.Tensor) {
						r := rand.New(rand.NewPCG(uint64(ci), uint64(oi)))
						x := randQ(r, xdt, ir.Shape{1, cv.c, cv.h, cv.w})
						w := randQ(r, ir.Int8, ir.Shape{cv.m, cv.c / cv.group, cv.k, cv.k})
						packed := packQ(t, w, false)
						nm := cv.m
						if oi%2 == 1 {
							nm = 1
						}
						mult, add := randF32(r, nm, 1e-4, 3e-3), randF32(r, cv.m, -20, 20)
						p := int(cv.pad)
						op := &ir.QConv{Group: cv.group, XZero: int32(r.IntN(20)), Packed: ir.QPacked{Orig: w.Type}, Out: out}
						op.Kernel = []int{cv.k, cv.k}
						op.Strides = []int{cv.stride, cv.stride}
						op.Pads = []int{p, p, p, p}
						op.Dilations = []int{max(cv.dil, 1), max(cv.dil, 1)}
						op.AutoPad = "NOTSET"
						switch xdt {
						case ir.Int8:
							op.XZero -= 10
						case ir.Int16:
							op.XZero = 0
						}
						in := []*ir.Value{ir.NewInput("x", x.Type), ir.NewConst("w", packed), ir.NewConst("mult", mult), ir.NewConst("add", add)}
						feeds := map[string]*ir.Tensor{"x": x}
						if oi >= 2 {
							// a residual, int8 or uint8
							g, err := op.Geometry(x.Shape)
							if err != nil {
								t.Fatal(err)
							}
							rdt := []ir.DType{ir.Int8, ir.Uint8, ir.Int16}[ci%3]
							res := randQ(r, rdt, append(ir.Shape{1, cv.m}, g.Out...))
							op.RZero, op.RMult = int32(r.IntN(30)), 0.3+float32(oi)/10
							in = append(in, ir.NewInput("r", res.Type))
							feeds["r"] = res
						}
						return oneNode(t, op, in), feeds
					})
				})
			}
		}
	}
}

// TestQConvWinograd runs 3x3 convolutions through Winograd F(2x2, 3x3):
// odd and even output sizes, partial groups of tiles, odd channel counts.
func TestQConvWinograd(t *testing.T) {
	for ci, cv := range [][5]int{{3, 8, 9, 7, 1}, {16, 12, 20, 37, 1}, {5, 6, 11, 16, 0}, {7, 5, 18, 19, 1}, {2, 4, 3, 3, 1}} {
		for oi, out := range qouts() {
			t.Run(fmt.Sprintf("%v/%d", cv, oi), func(t *testing.T) {
				checkFused(t, func() (*ir.Graph, map[string]*ir.Tensor) {
					r := rand.New(rand.NewPCG(uint64(ci), uint64(oi)))
					C, M, H, W, pad := cv[0], cv[1], cv[2], cv[3], cv[4]
					xdt := []ir.DType{ir.Uint8, ir.Int8}[oi%2]
					x := randQ(r, xdt, ir.Shape{1, C, H, W})
					w := randQ(r, ir.Int8, ir.Shape{M, C, 3, 3})
					packed := packQ(t, w, false)
					mult, add := randF32(r, M, 1e-4, 3e-3), randF32(r, M, -20, 20)
					op := &ir.QConv{Group: 1, XZero: int32(r.IntN(20)) - 10*int32(oi%2), Packed: ir.QPacked{Orig: w.Type}, Out: out, Winograd: true}
					op.Kernel, op.Strides, op.Dilations, op.AutoPad = []int{3, 3}, []int{1, 1}, []int{1, 1}, "NOTSET"
					op.Pads = []int{pad, pad, pad, pad}
					pw := ir.NewConst("w", packed)
					wn := prepareNode(t, &ir.WinogradWeights{Orig: w.Type}, pw)
					in := []*ir.Value{ir.NewInput("x", x.Type), pw, ir.NewConst("mult", mult), ir.NewConst("add", add), nil, wn.Outputs[0]}
					feeds := map[string]*ir.Tensor{"x": x}
					if oi == 2 {
						g, _ := op.Geometry(x.Shape)
						res := randQ(r, ir.Int8, append(ir.Shape{1, M}, g.Out...))
						op.RZero, op.RMult = 3, 0.7
						in[4] = ir.NewInput("r", res.Type)
						feeds["r"] = res
					}
					g := oneNode(t, op, in)
					g.Nodes = append([]*ir.Node{wn}, g.Nodes...)
					return g, feeds
				})
			})
		}
	}
}

// TestQConvWidened runs pointwise convolutions whose weight pairs are
// broadcast from an int16 copy (ir.WidenWeights).
func TestQConvWidened(t *testing.T) {
	for ci, cv := range [][4]int{{16, 12, 8, 8}, {17, 5, 6, 5}, {3, 9, 4, 7}} {
		for oi, out := range qouts() {
			t.Run(fmt.Sprintf("%v/%d", cv, oi), func(t *testing.T) {
				checkFused(t, func() (*ir.Graph, map[string]*ir.Tensor) {
					r := rand.New(rand.NewPCG(uint64(ci), uint64(oi)))
					C, M, H, W := cv[0], cv[1], cv[2], cv[3]
					xdt := []ir.DType{ir.Uint8, ir.Int8}[oi%2]
					x := randQ(r, xdt, ir.Shape{1, C, H, W})
					w := randQ(r, ir.Int8, ir.Shape{M, C, 1, 1})
					packed := packQ(t, w, false)
					mult, add := randF32(r, M, 1e-4, 3e-3), randF32(r, M, -20, 20)
					op := &ir.QConv{Group: 1, XZero: int32(r.IntN(20)), Packed: ir.QPacked{Orig: w.Type}, Out: out, Widened: true}
					op.Kernel, op.Strides, op.Dilations, op.AutoPad = []int{1, 1}, []int{1, 1}, []int{1, 1}, "NOTSET"
					op.Pads = []int{0, 0, 0, 0}
					pw := ir.NewConst("w", packed)
					wn := prepareNode(t, &ir.WidenWeights{}, pw)
					g := oneNode(t, op, []*ir.Value{ir.NewInput("x", x.Type), pw, ir.NewConst("mult", mult), ir.NewConst("add", add), nil, wn.Outputs[0]})
					g.Nodes = append([]*ir.Node{wn}, g.Nodes...)
					return g, map[string]*ir.Tensor{"x": x}
				})
			})
		}
	}
}

func TestQMatMulFused(t *testing.T) {
	for _, d := range [][4]int{{1, 1, 256, 10}, {2, 5, 33, 7}, {1, 4, 8, 16}, {3, 3, 100, 13}} {
		for oi, out := range qouts() {
			t.Run(fmt.Sprintf("%v/%d", d, oi), func(t *testing.T) {
				checkFused(t, func() (*ir.Graph, map[string]*ir.Tensor) {
					r := rand.New(rand.NewPCG(uint64(d[2]), uint64(oi)))
					a := randQ(r, ir.Uint8, ir.Shape{d[0], d[1], d[2]})
					b := randQ(r, ir.Int8, ir.Shape{d[2], d[3]})
					packed := packQ(t, b, true)
					nm := d[3]
					if oi%2 == 1 {
						nm = 1
					}
					mult, add := randF32(r, nm, 1e-4, 3e-3), randF32(r, d[3], -20, 20)
					op := &ir.QMatMul{AZero: 120, Packed: ir.QPacked{Orig: b.Type}, Out: out}
					return oneNode(t, op, []*ir.Value{ir.NewInput("a", a.Type), ir.NewConst("b", packed), ir.NewConst("mult", mult), ir.NewConst("add", add)}),
						map[string]*ir.Tensor{"a": a}
				})
			})
		}
	}
}

func TestQAddFused(t *testing.T) {
	for _, shape := range []ir.Shape{{1, 3, 7, 5}, {2, 64}, {5}} {
		for oi, out := range qouts() {
			if out.DType == ir.Int16 {
				continue // QAdd writes 8-bit or float outputs
			}
			t.Run(fmt.Sprintf("%v/%d", shape, oi), func(t *testing.T) {
				checkFused(t, func() (*ir.Graph, map[string]*ir.Tensor) {
					r := rand.New(rand.NewPCG(uint64(shape.Size()), uint64(oi)))
					a, b := randQ(r, ir.Int8, shape), randQ(r, ir.Uint8, shape)
					op := &ir.QAdd{AZero: -3, BZero: 130, AMult: 0.37, BMult: 0.61, Out: out}
					return oneNode(t, op, []*ir.Value{ir.NewInput("a", a.Type), ir.NewInput("b", b.Type)}),
						map[string]*ir.Tensor{"a": a, "b": b}
				})
			})
		}
	}
}

// packQ packs weights w as opt's qdq pass does.
func packQ(t *testing.T, w *ir.Tensor, transpose bool) *ir.Tensor {
	t.Helper()
	packed, err := ir.PackQWeights(w, nil, transpose)
	if err != nil {
		t.Fatal(err)
	}
	return packed
}

// prepareNode is the node "u" that prepares the packed weights pw with op
// (WinogradWeights, WidenWeights) for a QConv's input 5.
func prepareNode(t *testing.T, op ir.Op, pw *ir.Value) *ir.Node {
	t.Helper()
	wn := &ir.Node{Name: "u", Op: op, Inputs: []*ir.Value{pw}, Outputs: []*ir.Value{{Name: "u"}}}
	if err := ir.InferNode(wn); err != nil {
		t.Fatal(err)
	}
	return wn
}

// oneNode makes a graph of one node whose non-constant inputs are the
// graph inputs.
func oneNode(t *testing.T, op ir.Op, in []*ir.Value) *ir.Graph {
	t.Helper()
	g := &ir.Graph{Name: "fused"}
	for _, v := range in {
		if v != nil && v.Const == nil && v.Name != "u" {
			g.Inputs = append(g.Inputs, v)
		}
	}
	n := &ir.Node{Name: "n", Op: op, Inputs: in, Outputs: []*ir.Value{{Name: "y"}}}
	g.Nodes = []*ir.Node{n}
	g.Outputs = n.Outputs
	if err := ir.InferNode(n); err != nil {
		t.Fatal(err)
	}
	return g
}
