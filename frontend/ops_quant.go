package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Quantization operators and the integer matrix products and convolutions.

// dtypeAttr reads an attribute holding an ONNX data type code; 0 (the
// default) gives ir.Invalid.
func dtypeAttr(c *nodeCtx, name string) (ir.DType, error) {
	code := c.Int(name, 0)
	if code == 0 {
		return ir.Invalid, nil
	}
	dt, err := DTypeFromONNX(int32(code))
	if err != nil {
		return ir.Invalid, fmt.Errorf("%s: %w", name, err)
	}
	return dt, nil
}

func init() {
	register("QuantizeLinear", []int{10, 13, 19, 21, 23, 24, 25}, "float8/float4 outputs follow Cast's saturation; int32 scales are not supported", func(c *nodeCtx) error {
		q := &ir.QuantizeLinear{Axis: 1, Saturate: true}
		if c.Version >= 13 {
			q.Axis = c.Int("axis", 1)
		}
		if c.Version >= 19 {
			q.Saturate = c.Int("saturate", 1) != 0
		}
		var err error
		if c.Version >= 21 {
			q.BlockSize = c.Int("block_size", 0)
			if q.OutType, err = dtypeAttr(c, "output_dtype"); err != nil {
				return err
			}
		}
		if c.Version >= 23 {
			if q.Precision, err = dtypeAttr(c, "precision"); err != nil {
				return err
			}
		}
		return c.Emit(q, c.In(0), c.In(1), c.In(2))
	})
	register("DequantizeLinear", []int{10, 13, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		d := &ir.DequantizeLinear{Axis: 1}
		if c.Version >= 13 {
			d.Axis = c.Int("axis", 1)
		}
		if c.Version >= 21 {
			d.BlockSize = c.Int("block_size", 0)
		}
		if c.Version >= 23 {
			var err error
			if d.OutType, err = dtypeAttr(c, "output_dtype"); err != nil {
				return err
			}
		}
		return c.Emit(d, c.In(0), c.In(1), c.In(2))
	})
	register("DynamicQuantizeLinear", []int{11}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.DynamicQuantizeLinear{}, c.In(0))
	})
	register("MatMulInteger", []int{10}, "zero points that vary along batch dimensions are not supported", func(c *nodeCtx) error {
		return c.Emit(&ir.MatMulInteger{}, c.In(0), c.In(1), c.In(2), c.In(3))
	})
	register("QLinearMatMul", []int{10, 21}, "float8 inputs, per-row output scales and batch-varying scales are not supported", func(c *nodeCtx) error {
		if err := c.Need(8); err != nil {
			return err
		}
		in := make([]*ir.Value, 8)
		for i := range in {
			in[i] = c.In(i)
		}
		return c.Emit(&ir.QLinearMatMul{}, in...)
	})
	register("ConvInteger", []int{10}, "", func(c *nodeCtx) error {
		w, err := window(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.ConvInteger{Window: w, Group: c.Int("group", 1)}, c.In(0), c.In(1), c.In(2), c.In(3))
	})
	register("QLinearConv", []int{10}, "", func(c *nodeCtx) error {
		if err := c.Need(8); err != nil {
			return err
		}
		w, err := window(c)
		if err != nil {
			return err
		}
		in := make([]*ir.Value, 9)
		for i := range in {
			in[i] = c.In(i)
		}
		return c.Emit(&ir.QLinearConv{Window: w, Group: c.Int("group", 1)}, in...)
	})
}
