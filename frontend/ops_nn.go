package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Convolution, pooling, matrix products and normalization.

func window(c *nodeCtx) (ir.Window, error) {
	w := ir.Window{
		Kernel:    c.Ints("kernel_shape", nil),
		Pads:      c.Ints("pads", nil),
		Strides:   c.Ints("strides", nil),
		Dilations: c.Ints("dilations", nil),
	}
	var err error
	w.AutoPad, err = c.OneOf("auto_pad", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
	return w, err
}

// lpOrder reads LpPool's p: a float in opset 1, an int later.
func lpOrder(c *nodeCtx) (int, error) {
	if c.Version < 2 {
		p := c.Float("p", 2)
		if p != float32(int(p)) {
			return 0, ir.NotSupportedf("p=%g (integer orders are supported)", p)
		}
		return int(p), nil
	}
	return c.Int("p", 2), nil
}

func init() {
	register("Conv", []int{1, 11, 22}, "", func(c *nodeCtx) error {
		w, err := window(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.Conv{Window: w, Group: c.Int("group", 1)}, c.In(0), c.In(1), c.In(2))
	})
	pool := func(name string, kind ir.PoolKind, versions []int) {
		register(name, versions, "", func(c *nodeCtx) error {
			w, err := window(c)
			if err != nil {
				return err
			}
			if w.Kernel == nil {
				return fmt.Errorf("%s needs kernel_shape", name)
			}
			p := &ir.Pool{Window: w, Kind: kind}
			switch kind {
			case ir.PoolAverage:
				p.CountIncludePad = c.Int("count_include_pad", 0) == 1
				p.CeilMode = c.Int("ceil_mode", 0) == 1
			case ir.PoolMax:
				p.CeilMode = c.Int("ceil_mode", 0) == 1
				p.StorageOrder = c.Int("storage_order", 0)
			case ir.PoolLp:
				if p.P, err = lpOrder(c); err != nil {
					return err
				}
				p.CeilMode = c.Int("ceil_mode", 0) == 1
			}
			return c.Emit(p, c.In(0))
		})
	}
	pool("MaxPool", ir.PoolMax, []int{1, 8, 10, 11, 12, 22})
	pool("AveragePool", ir.PoolAverage, []int{1, 7, 10, 11, 19, 22})
	pool("LpPool", ir.PoolLp, []int{1, 2, 11, 18, 22})
	global := func(name string, kind ir.PoolKind, versions []int) {
		register(name, versions, "", func(c *nodeCtx) error {
			p := 2
			if kind == ir.PoolLp {
				var err error
				if p, err = lpOrder(c); err != nil {
					return err
				}
			}
			return c.Emit(&ir.GlobalPool{Kind: kind, P: p}, c.In(0))
		})
	}
	global("GlobalAveragePool", ir.PoolAverage, []int{1, 22})
	global("GlobalMaxPool", ir.PoolMax, []int{1, 22})
	global("GlobalLpPool", ir.PoolLp, []int{1, 2, 22})

	register("Gemm", []int{1, 6, 7, 9, 11, 13}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		if c.Version < 7 {
			c.Has("broadcast") // C broadcasts in every opset mlc supports
		}
		return c.Emit(&ir.Gemm{
			Alpha:  c.Float("alpha", 1),
			Beta:   c.Float("beta", 1),
			TransA: c.Int("transA", 0) == 1,
			TransB: c.Int("transB", 0) == 1,
		}, c.In(0), c.In(1), c.In(2))
	})
	register("MatMul", []int{1, 9, 13}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.MatMul{}, c.In(0), c.In(1))
	})
	softmax := func(kind ir.SoftmaxKind) {
		register(string(kind), []int{1, 11, 13}, "", func(c *nodeCtx) error {
			if c.Version >= 13 {
				return c.Emit(&ir.Softmax{Kind: kind, Axis: c.Int("axis", -1)}, c.In(0))
			}
			// Before opset 13 the input is coerced to 2-D at axis and
			// normalized over the second dimension.
			axis := c.Int("axis", 1)
			x := c.In(0)
			flat := c.Tmp1(&ir.Flatten{Axis: axis}, x)
			y := c.Tmp1(&ir.Softmax{Kind: kind, Axis: 1}, flat)
			return c.Emit(&ir.Reshape{}, y, c.Tmp1(&ir.ShapeOf{}, x))
		})
	}
	softmax(ir.KindSoftmax)
	softmax(ir.KindLogSoftmax)
	softmax(ir.KindHardmax)

	register("BatchNormalization", []int{1, 6, 7, 9, 14, 15}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		// Training mode normalizes with the batch's statistics and outputs
		// the updated running ones: training_mode=1 from opset 14; before,
		// as in ONNX Runtime, asking for the statistics outputs (is_test
		// is not trusted: exporters left it at its training default).
		training := false
		if c.Version < 7 {
			c.Has("is_test")
			c.Has("spatial")
		} else if c.Version < 9 {
			if c.Int("spatial", 1) != 1 {
				return ir.NotSupportedf("spatial=0")
			}
		}
		if c.Version >= 14 {
			training = c.Int("training_mode", 0) != 0
		} else {
			for i := 1; i < c.NumOut(); i++ {
				training = training || c.np.Output[i] != ""
			}
		}
		momentum := c.Float("momentum", 0.9)
		eps := c.Float("epsilon", 1e-5)
		if training {
			return c.Emit(&ir.BatchNormTraining{Epsilon: eps, Momentum: momentum}, c.In(0), c.In(1), c.In(2), c.In(3), c.In(4))
		}
		return c.Emit(&ir.BatchNorm{Epsilon: eps}, c.In(0), c.In(1), c.In(2), c.In(3), c.In(4))
	})
}
