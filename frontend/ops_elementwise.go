package frontend

import (
	"fmt"
	"math"

	"github.com/mlc-compiler/mlc/ir"
)

// Elementwise operators.

func init() {
	unary := func(fn ir.UnaryFn, versions ...int) {
		register(string(fn), versions, "", func(c *nodeCtx) error {
			legacyAttrs(c)
			return c.Emit(&ir.Unary{Fn: fn}, c.In(0))
		})
	}
	unary(ir.FnAbs, 1, 6, 13)
	unary(ir.FnNeg, 1, 6, 13)
	unary(ir.FnRelu, 1, 6, 13, 14)
	unary(ir.FnSigmoid, 1, 6, 13)
	unary(ir.FnTanh, 1, 6, 13)
	unary(ir.FnExp, 1, 6, 13)
	unary(ir.FnLog, 1, 6, 13)
	unary(ir.FnSqrt, 1, 6, 13)
	unary(ir.FnReciprocal, 1, 6, 13)
	unary(ir.FnFloor, 1, 6, 13)
	unary(ir.FnCeil, 1, 6, 13)
	unary(ir.FnRound, 11, 22)
	unary(ir.FnSin, 7, 22)
	unary(ir.FnCos, 7, 22)
	unary(ir.FnTan, 7, 22)
	unary(ir.FnAsin, 7, 22)
	unary(ir.FnAcos, 7, 22)
	unary(ir.FnAtan, 7, 22)
	unary(ir.FnSinh, 9, 22)
	unary(ir.FnCosh, 9, 22)
	unary(ir.FnAsinh, 9, 22)
	unary(ir.FnAcosh, 9, 22)
	unary(ir.FnAtanh, 9, 22)
	unary(ir.FnErf, 9, 13)
	unary(ir.FnSign, 9, 13)
	unary(ir.FnSoftplus, 1, 22)
	unary(ir.FnSoftsign, 1, 22)
	unary(ir.FnHardSwish, 14, 22)
	unary(ir.FnMish, 18, 22)
	unary(ir.FnNot, 1)
	unary(ir.FnIsNaN, 9, 13, 20)
	unary(ir.FnBitwiseNot, 18)

	withAlpha := func(fn ir.UnaryFn, alpha float32, versions ...int) {
		register(string(fn), versions, "", func(c *nodeCtx) error {
			legacyAttrs(c)
			return c.Emit(&ir.Unary{Fn: fn, Alpha: c.Float("alpha", alpha)}, c.In(0))
		})
	}
	withAlpha(ir.FnElu, 1, 1, 6, 22)
	withAlpha(ir.FnLeakyRelu, 0.01, 1, 6, 16)
	withAlpha(ir.FnThresholdedRelu, 1, 10, 22)
	withAlpha(ir.FnCelu, 1, 12)
	withAlpha(ir.FnSwish, 1, 24)

	register("Selu", []int{1, 6, 22}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		return c.Emit(&ir.Unary{Fn: ir.FnSelu, Alpha: c.Float("alpha", 1.67326319217681884765625), Gamma: c.Float("gamma", 1.05070102214813232421875)}, c.In(0))
	})
	register("HardSigmoid", []int{1, 6, 22}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		return c.Emit(&ir.Unary{Fn: ir.FnHardSigmoid, Alpha: c.Float("alpha", 0.2), Beta: c.Float("beta", 0.5)}, c.In(0))
	})
	register("Shrink", []int{9}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Unary{Fn: ir.FnShrink, Alpha: c.Float("lambd", 0.5), Beta: c.Float("bias", 0)}, c.In(0))
	})
	register("Gelu", []int{20}, "", func(c *nodeCtx) error {
		approx, err := c.OneOf("approximate", "none", "none", "tanh")
		if err != nil {
			return err
		}
		fn := ir.FnGelu
		if approx == "tanh" {
			fn = ir.FnGeluTanh
		}
		return c.Emit(&ir.Unary{Fn: fn}, c.In(0))
	})
	register("IsInf", []int{10, 20}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Unary{Fn: ir.FnIsInf, Alpha: float32(c.Int("detect_positive", 1)), Beta: float32(c.Int("detect_negative", 1))}, c.In(0))
	})

	binary := func(fn ir.BinaryFn, versions ...int) {
		register(string(fn), versions, "", func(c *nodeCtx) error {
			b, err := legacyBroadcast(c)
			if err != nil {
				return err
			}
			return c.Emit(&ir.Binary{Fn: fn}, c.In(0), b)
		})
	}
	binary(ir.FnAdd, 1, 6, 7, 13, 14)
	binary(ir.FnSub, 1, 6, 7, 13, 14)
	binary(ir.FnMul, 1, 6, 7, 13, 14)
	binary(ir.FnDiv, 1, 6, 7, 13, 14)
	binary(ir.FnPow, 1, 7, 12, 13, 15)
	binary(ir.FnAnd, 1, 7)
	binary(ir.FnOr, 1, 7)
	binary(ir.FnXor, 1, 7)
	binary(ir.FnEqual, 1, 7, 11, 13, 19)
	binary(ir.FnLess, 1, 7, 9, 13)
	binary(ir.FnGreater, 1, 7, 9, 13)
	binary(ir.FnLessOrEqual, 12, 16)
	binary(ir.FnGreaterOrEqual, 12, 16)
	binary(ir.FnBitwiseAnd, 18)
	binary(ir.FnBitwiseOr, 18)
	binary(ir.FnBitwiseXor, 18)
	register("PRelu", []int{1, 6, 7, 9, 16}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		x, slope := c.In(0), c.In(1)
		// Before opset 7 a 1-D slope of C values is per channel (axis 1).
		if c.Version < 7 && x.Typed() && slope.Typed() && len(slope.Type.Shape) == 1 && len(x.Type.Shape) > 2 &&
			slope.Type.Shape[0] == x.Type.Shape[1] && slope.Type.Shape[0] != 1 {
			axes := make([]int, len(x.Type.Shape)-2)
			for i := range axes {
				axes[i] = i + 1
			}
			slope = c.Tmp1(&ir.Unsqueeze{}, slope, c.ConstInts(axes...))
		}
		return c.Emit(&ir.Binary{Fn: ir.FnPRelu}, x, slope)
	})
	register("Mod", []int{10, 13}, "", func(c *nodeCtx) error {
		fn := ir.FnMod
		if c.Int("fmod", 0) == 1 {
			fn = ir.FnFmod
		} else if t := c.In(0).Type.DType; t.IsFloat() {
			return fmt.Errorf("Mod with fmod=0 is defined only for integers, input is %s", t)
		}
		return c.Emit(&ir.Binary{Fn: fn}, c.In(0), c.In(1))
	})
	register("BitShift", []int{11}, "", func(c *nodeCtx) error {
		dir, err := c.OneOf("direction", "", "LEFT", "RIGHT")
		if err != nil {
			return err
		}
		fn := ir.FnBitShiftLeft
		if dir == "RIGHT" {
			fn = ir.FnBitShiftRight
		}
		return c.Emit(&ir.Binary{Fn: fn}, c.In(0), c.In(1))
	})

	// Variadic Sum, Max, Min, Mean fold into chains of binary ops.
	variadic := func(name string, fn ir.BinaryFn, versions ...int) {
		register(name, versions, "", func(c *nodeCtx) error {
			legacyAttrs(c)
			in := c.Inputs()
			if len(in) == 0 {
				return fmt.Errorf("%s needs at least one input", name)
			}
			if name == "Mean" {
				acc := in[0]
				for _, v := range in[1:] {
					acc = c.Tmp1(&ir.Binary{Fn: fn}, acc, v)
				}
				if !acc.Typed() {
					return fmt.Errorf("Mean needs typed inputs")
				}
				n := ir.NewTensor(acc.Type.DType, nil)
				n.SetFloat(0, float64(len(in)))
				return c.Emit(&ir.Binary{Fn: ir.FnDiv}, acc, c.Const(n))
			}
			if len(in) == 1 {
				return c.Emit(&ir.Identity{}, in[0])
			}
			acc := in[0]
			for _, v := range in[1 : len(in)-1] {
				acc = c.Tmp1(&ir.Binary{Fn: fn}, acc, v)
			}
			return c.Emit(&ir.Binary{Fn: fn}, acc, in[len(in)-1])
		})
	}
	variadic("Sum", ir.FnAdd, 1, 6, 8, 13)
	variadic("Max", ir.FnMax, 1, 6, 8, 12, 13)
	variadic("Min", ir.FnMin, 1, 6, 8, 12, 13)
	variadic("Mean", ir.FnAdd, 1, 6, 8, 13)

	register("Clip", []int{1, 6, 11, 12, 13}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		if c.Version < 11 {
			lo := c.Float("min", float32(math.Inf(-1)))
			hi := c.Float("max", float32(math.Inf(1)))
			return c.Emit(&ir.Clip{}, c.In(0), c.Const(ir.ScalarF32(lo)), c.Const(ir.ScalarF32(hi)))
		}
		return c.Emit(&ir.Clip{}, c.In(0), c.In(1), c.In(2))
	})
}

// legacyAttrs accepts the attributes of opset 1-5 that carry no meaning for
// inference (consumed_inputs was an in-place hint).
func legacyAttrs(c *nodeCtx) {
	if c.Version < 6 {
		c.Has("consumed_inputs")
	}
}

// legacyBroadcast settles opset 1-6 binary broadcasting: without broadcast=1
// shapes must match; with it, B aligns with A starting at axis.
func legacyBroadcast(c *nodeCtx) (*ir.Value, error) {
	legacyAttrs(c)
	b := c.In(1)
	if c.Version >= 7 {
		return b, nil
	}
	if c.Int("broadcast", 0) == 0 {
		if a := c.In(0); a.Typed() && b.Typed() && !a.Type.Shape.Equal(b.Type.Shape) {
			return nil, fmt.Errorf("operand shapes %s and %s differ and broadcast is not set", a.Type.Shape, b.Type.Shape)
		}
		return b, nil
	}
	if !c.Has("axis") {
		return b, nil // suffix alignment, as numpy
	}
	a := c.In(0)
	if !a.Typed() || !b.Typed() {
		return nil, fmt.Errorf("legacy broadcast with axis needs typed operands")
	}
	axis := c.Int("axis", 0)
	ra, rb := len(a.Type.Shape), len(b.Type.Shape)
	if axis < 0 {
		axis += ra
	}
	trailing := ra - axis - rb
	if trailing < 0 {
		return nil, fmt.Errorf("broadcast axis %d does not fit shapes %s and %s", axis, a.Type.Shape, b.Type.Shape)
	}
	if trailing == 0 {
		return b, nil
	}
	axes := make([]int, trailing)
	for i := range axes {
		axes[i] = rb + i
	}
	return c.Tmp1(&ir.Unsqueeze{}, b, c.ConstInts(axes...)), nil
}
