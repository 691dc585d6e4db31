package codegen_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/verify"
)

// Kernel checks for what the ONNX cases do not cover (other dtypes, wide
// filters, ...): a one-node graph is compiled with and without SIMD, run on
// wazero and compared with the reference interpreter.

// randTensor fills a tensor of dt with values in [lo, hi).
func randTensor(r *rand.Rand, dt ir.DType, shape ir.Shape, lo, hi float64) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	for i := range t.Len() {
		v := lo + (hi-lo)*r.Float64()
		if dt.IsInt() {
			t.SetInt(i, int64(v))
		} else {
			t.SetFloat(i, v)
		}
	}
	return t
}

// checkNode builds op over inputs (nil entries are omitted inputs; tensors
// named in consts become constants) and compares the module's outputs with
// ir.Run's.
func checkNode(t *testing.T, op ir.Op, nout int, inputs []*ir.Tensor, consts map[int]bool, rtol, atol float64) {
	t.Helper()
	for _, simd := range []bool{true, false} {
		g := &ir.Graph{}
		n := &ir.Node{Op: op}
		env := ir.Env{}
		feeds := map[string]*ir.Tensor{}
		for i, in := range inputs {
			if in == nil {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			name := fmt.Sprintf("in%d", i)
			if consts[i] {
				n.Inputs = append(n.Inputs, ir.NewConst(name, in))
				continue
			}
			v := ir.NewInput(name, in.Type)
			g.Inputs = append(g.Inputs, v)
			n.Inputs = append(n.Inputs, v)
			env[v] = in
			feeds[name] = in
		}
		for i := range nout {
			n.Outputs = append(n.Outputs, &ir.Value{Name: fmt.Sprintf("out%d", i)})
		}
		g.Nodes = []*ir.Node{n}
		g.Outputs = n.Outputs
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		want, err := ir.Run(g, env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := runGraph(t, g, 2, simd, feeds)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			r := &verify.OutputResult{}
			if msg := verify.Compare(got[fmt.Sprintf("out%d", i)], w, rtol, atol, r); msg != "" {
				t.Errorf("simd=%v output %d: %s", simd, i, msg)
			}
		}
	}
}

// runGraph plans and builds g at the optimization level, runs the module
// on the feeds and returns its outputs by name, or mlc_run's error.
func runGraph(t *testing.T, g *ir.Graph, level int, simd bool, feeds map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	t.Helper()
	plan, err := opt.Run(g, opt.Options{Level: level, Workspace: codegen.Workspace})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: simd})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ctx := context.Background()
	m, err := optest.Runtime(t).Load(ctx, wasm)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer m.Close(ctx)
	return hostir.Run(ctx, m, feeds)
}

func TestResizeKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scales := func(s ...float32) *ir.Tensor { return ir.TensorF32(ir.Shape{len(s)}, s...) }
	sizes := func(s ...int64) *ir.Tensor { return ir.TensorI64(ir.Shape{len(s)}, s...) }
	cases := []struct {
		name   string
		op     *ir.Resize
		x      *ir.Tensor
		roi    *ir.Tensor
		scales *ir.Tensor
		sizes  *ir.Tensor
	}{
		{"int32 linear", &ir.Resize{Mode: "linear", CoordMode: "half_pixel"}, randTensor(r, ir.Int32, ir.Shape{1, 2, 5, 7}, -1000, 1000), nil, scales(1, 1, 1.7, 0.6), nil},
		{"uint8 linear saturates", &ir.Resize{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75}, randTensor(r, ir.Uint8, ir.Shape{1, 1, 6, 6}, 0, 256), nil, scales(1, 1, 2, 2), nil},
		{"int64 nearest", &ir.Resize{Mode: "nearest", CoordMode: "half_pixel", NearestMode: "round_prefer_ceil"}, randTensor(r, ir.Int64, ir.Shape{2, 3, 4}, -1e9, 1e9), nil, nil, sizes(3, 7, 9)},
		{"float16 linear", &ir.Resize{Mode: "linear", CoordMode: "align_corners"}, randTensor(r, ir.Float16, ir.Shape{1, 3, 5, 6}, -4, 4), nil, nil, sizes(1, 3, 9, 4)},
		{"float64 cubic exclude_outside", &ir.Resize{Mode: "cubic", CoordMode: "half_pixel", CubicA: -0.5, ExcludeOutside: true}, randTensor(r, ir.Float64, ir.Shape{1, 2, 6, 5}, -4, 4), nil, scales(1, 1, 1.5, 2.2), nil},
		{"wide antialias filter", &ir.Resize{Mode: "cubic", CoordMode: "half_pixel", CubicA: -0.75, Antialias: true}, randTensor(r, ir.Float32, ir.Shape{1, 2, 40, 33}, -4, 4), nil, scales(1, 1, 0.2, 0.3), nil},
		{"crop and extrapolate rows", &ir.Resize{Mode: "linear", CoordMode: "tf_crop_and_resize", Extrapolation: 7}, randTensor(r, ir.Float32, ir.Shape{1, 1, 6, 9}, -4, 4), ir.TensorF32(ir.Shape{8}, 0, 0, -0.2, 0.1, 1, 1, 1.3, 0.8), nil, sizes(1, 1, 8, 11)},
		{"keep aspect, axes", &ir.Resize{Mode: "linear", CoordMode: "pytorch_half_pixel", Axes: []int{-1, 2}, KeepAspect: "not_smaller"}, randTensor(r, ir.BFloat16, ir.Shape{2, 1, 7, 9}, -4, 4), nil, nil, sizes(4, 5)},
		{"float8e4m3fn linear", &ir.Resize{Mode: "linear", CoordMode: "half_pixel"}, randTensor(r, ir.Float8E4M3FN, ir.Shape{1, 2, 4, 5}, -4, 4), nil, scales(1, 1, 1.5, 0.8), nil},
		{"float8e5m2 cubic", &ir.Resize{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75}, randTensor(r, ir.Float8E5M2, ir.Shape{1, 1, 5, 5}, -4, 4), nil, scales(1, 1, 2, 2), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rtol := 1e-3
			if c.x.DType == ir.BFloat16 {
				// The kernel rounds f32 results to bfloat16, the reference
				// float64 ones: they may differ by one bfloat16 ulp (2^-8).
				rtol = 1.0 / 128
			}
			checkNode(t, c.op, 1, []*ir.Tensor{c.x, c.roi, c.scales, c.sizes}, map[int]bool{1: true, 2: true, 3: true}, rtol, 1e-5)
		})
	}
}

func TestConvTransposeKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []ir.DType{ir.Float64, ir.Float16} {
		op := &ir.ConvTranspose{Window: ir.Window{Strides: []int{2, 1}, Pads: []int{1, 0, 0, 1}, Dilations: []int{1, 2}}, Group: 2, OutputPadding: []int{1, 0}}
		x := randTensor(r, dt, ir.Shape{2, 4, 3, 5}, -1, 1)
		w := randTensor(r, dt, ir.Shape{4, 3, 3, 2}, -1, 1)
		b := randTensor(r, dt, ir.Shape{6}, -1, 1)
		t.Run(dt.String(), func(t *testing.T) {
			checkNode(t, op, 1, []*ir.Tensor{x, w, b}, map[int]bool{1: true, 2: true}, 1e-2, 1e-3)
		})
	}
}

func TestNormalizationKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -3, 3) }
	consts := map[int]bool{1: true, 2: true, 3: true, 4: true}
	cases := []struct {
		name string
		op   ir.Op
		nout int
		in   []*ir.Tensor
	}{
		{"layernorm broadcast scale float16", &ir.LayerNorm{Axis: 1, Epsilon: 1e-3, Stash: ir.Float32}, 3, []*ir.Tensor{x(ir.Float16, 2, 3, 5), x(ir.Float16, 1, 5), x(ir.Float16, 3, 1)}},
		{"layernorm float32 rows of 37", &ir.LayerNorm{Axis: -1, Epsilon: 1e-5, Stash: ir.Float32}, 3, []*ir.Tensor{x(ir.Float32, 3, 37), x(ir.Float32, 37), x(ir.Float32, 37)}},
		{"layernorm double stash", &ir.LayerNorm{Axis: 0, Epsilon: 1e-5, Stash: ir.Float64}, 3, []*ir.Tensor{x(ir.Float64, 4, 6), x(ir.Float64, 4, 6), nil}},
		{"rms float32 x, float16 scale", &ir.LayerNorm{Axis: -2, Epsilon: 1e-5, Stash: ir.Float32, RMS: true}, 1, []*ir.Tensor{x(ir.Float32, 2, 4, 9), x(ir.Float16, 9)}},
		{"instancenorm float16", &ir.InstanceNorm{Epsilon: 1e-5}, 1, []*ir.Tensor{x(ir.Float16, 2, 3, 4, 5), x(ir.Float16, 3), x(ir.Float16, 3)}},
		{"groupnorm opset 18", &ir.GroupNorm{Groups: 2, Epsilon: 1e-5, Stash: ir.Float32, PerGroupAffine: true}, 1, []*ir.Tensor{x(ir.Float32, 2, 4, 3, 3), x(ir.Float32, 2), x(ir.Float32, 2)}},
		{"groupnorm opset 21 float64", &ir.GroupNorm{Groups: 3, Epsilon: 1e-5, Stash: ir.Float64}, 1, []*ir.Tensor{x(ir.Float64, 2, 6, 7), x(ir.Float64, 6), x(ir.Float64, 6)}},
		{"batchnorm training, five outputs", &ir.BatchNormTraining{Epsilon: 1e-5, Momentum: 0.8}, 5, []*ir.Tensor{x(ir.Float32, 3, 2, 6, 5), x(ir.Float32, 2), x(ir.Float32, 2), x(ir.Float32, 2), randTensor(r, ir.Float32, ir.Shape{2}, 0.5, 2)}},
		{"batchnorm training float64", &ir.BatchNormTraining{Epsilon: 1e-5, Momentum: 0.9}, 3, []*ir.Tensor{x(ir.Float64, 2, 3, 7), x(ir.Float64, 3), x(ir.Float64, 3), x(ir.Float64, 3), randTensor(r, ir.Float64, ir.Shape{3}, 0.5, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, c.nout, c.in, consts, 2e-3, 1e-3)
		})
	}
}

func TestSamplingKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -3, 3) }
	grid := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -1.4, 1.4) }
	rois := ir.TensorF32(ir.Shape{3, 4}, 0.5, 1, 6.2, 4.8, -3, -2, 2.5, 9, 7, 1, 7.5, 1.2).Convert(ir.Float64)
	cases := []struct {
		name   string
		op     ir.Op
		in     []*ir.Tensor
		consts map[int]bool
	}{
		{"gridsample cubic reflection float16", &ir.GridSample{Mode: "cubic", Padding: "reflection"}, []*ir.Tensor{x(ir.Float16, 1, 2, 5, 6), grid(ir.Float16, 1, 3, 4, 2)}, nil},
		{"gridsample 3-D cubic border float64", &ir.GridSample{Mode: "cubic", Padding: "border", AlignCorners: true}, []*ir.Tensor{x(ir.Float64, 2, 2, 3, 4, 5), grid(ir.Float64, 2, 2, 3, 2, 3)}, nil},
		{"gridsample 1-D nearest reflection", &ir.GridSample{Mode: "nearest", Padding: "reflection", AlignCorners: true}, []*ir.Tensor{x(ir.Float32, 2, 3, 7), grid(ir.Float32, 2, 9, 1)}, nil},
		{"affinegrid 3-D with a size-1 axis", &ir.AffineGrid{AlignCorners: true}, []*ir.Tensor{x(ir.Float64, 2, 3, 4), ir.TensorI64(ir.Shape{5}, 2, 1, 1, 3, 4)}, map[int]bool{1: true}},
		{"roialign max float64", &ir.RoiAlign{Mode: "max", OutH: 2, OutW: 3, SamplingRatio: 2, SpatialScale: 0.5, HalfPixel: true}, []*ir.Tensor{x(ir.Float64, 2, 3, 6, 7), rois, ir.TensorI64(ir.Shape{3}, 1, 0, 1)}, nil},
		{"roialign avg adaptive", &ir.RoiAlign{Mode: "avg", OutH: 3, OutW: 2, SpatialScale: 1}, []*ir.Tensor{x(ir.Float32, 2, 2, 9, 8), rois.Convert(ir.Float32), ir.TensorI64(ir.Shape{3}, 0, 1, 1)}, nil},
		{"deformconv 1-D float64 no mask", &ir.DeformConv{Window: ir.Window{Strides: []int{2}, Pads: []int{1, 2}, Dilations: []int{2}}, Group: 2, OffsetGroup: 2}, []*ir.Tensor{x(ir.Float64, 2, 4, 9), x(ir.Float64, 6, 2, 3), x(ir.Float64, 2, 6, 4), x(ir.Float64, 6), nil}, map[int]bool{1: true, 3: true}},
		{"deformconv 3-D with mask", &ir.DeformConv{Window: ir.Window{Pads: []int{0, 1, 0, 0, 0, 1}}, Group: 1, OffsetGroup: 1}, []*ir.Tensor{x(ir.Float32, 1, 2, 3, 4, 3), x(ir.Float32, 3, 2, 2, 2, 2), x(ir.Float32, 1, 24, 2, 4, 3), nil, randTensor(r, ir.Float32, ir.Shape{1, 8, 2, 4, 3}, 0, 1)}, map[int]bool{1: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, 1, c.in, c.consts, 2e-3, 1e-4)
		})
	}
}

func TestPoolKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -100, 100) }
	cases := []struct {
		name string
		op   ir.Op
		nout int
		in   *ir.Tensor
	}{
		{"maxpool 3-D column-major indices", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 3, 2}, Strides: []int{1, 2, 1}, Pads: []int{1, 0, 1, 0, 1, 1}}, StorageOrder: 1}, 2, x(ir.Float32, 2, 2, 4, 5, 3)},
		{"maxpool int8 ceil dilated", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}, Dilations: []int{2, 1}, CeilMode: true}}, 2, x(ir.Int8, 1, 3, 7, 6)},
		{"averagepool float16 ceil include pad", &ir.Pool{Kind: ir.PoolAverage, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, CeilMode: true}, CountIncludePad: true}, 1, randTensor(r, ir.Float16, ir.Shape{1, 2, 6, 7}, -2, 2)},
		{"maxpool float32 3x3 stride 2 pad 1", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}}}, 1, x(ir.Float32, 1, 3, 17, 19)},
		{"maxpool float32 2x2 stride 2", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}}}, 1, x(ir.Float32, 2, 2, 16, 24)},
		{"maxpool float32 3x3 stride 2 dilated ceil", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Dilations: []int{2, 2}, Pads: []int{2, 1, 0, 2}, CeilMode: true}}, 1, x(ir.Float32, 1, 2, 13, 15)},
		{"lppool p=3 float64", &ir.Pool{Kind: ir.PoolLp, Window: ir.Window{Kernel: []int{3}, AutoPad: "SAME_LOWER"}, P: 3}, 1, randTensor(r, ir.Float64, ir.Shape{2, 3, 8}, -2, 2)},
		{"globallppool p=1 float16", &ir.GlobalPool{Kind: ir.PoolLp, P: 1}, 1, randTensor(r, ir.Float16, ir.Shape{2, 3, 4, 5}, -2, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, c.nout, []*ir.Tensor{c.in}, nil, 2e-3, 1e-3)
		})
	}
}
