package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Type conversions: Cast, CastLike and BitCast.

const castLimits = "casts to and from string fold at compile time only (string tensors cannot live in Wasm memory)"

func init() {
	register("Cast", []int{1, 6, 9, 13, 19, 21, 23, 24, 25}, castLimits, func(c *nodeCtx) error {
		var to ir.DType
		var err error
		if c.Version < 6 {
			// Cast-1 names the type: to="FLOAT".
			name := c.String("to", "")
			code, ok := onnxpb.TensorProto_DataType_value[name]
			if !ok {
				return fmt.Errorf("Cast to unknown type %q", name)
			}
			to, err = DTypeFromONNX(code)
		} else {
			if !c.Has("to") {
				return fmt.Errorf("Cast needs the to attribute")
			}
			to, err = DTypeFromONNX(int32(c.Int("to", 0)))
		}
		if err != nil {
			return err
		}
		op, err := castOp(c, to)
		if err != nil {
			return err
		}
		return c.Emit(op, c.In(0))
	})
	register("CastLike", []int{15, 19, 21, 23, 24, 25}, castLimits, func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		if !c.In(1).Typed() {
			// Inside a subgraph: the target's dtype is settled at inference.
			op, err := castOp(c, ir.Invalid)
			if err != nil {
				return err
			}
			return c.Emit(op, c.In(0), c.In(1))
		}
		op, err := castOp(c, c.In(1).Type.DType)
		if err != nil {
			return err
		}
		return c.Emit(op, c.In(0))
	})
	register("BitCast", []int{26}, "", func(c *nodeCtx) error {
		if !c.Has("to") {
			return fmt.Errorf("BitCast needs the to attribute")
		}
		to, err := DTypeFromONNX(int32(c.Int("to", 0)))
		if err != nil {
			return err
		}
		return c.Emit(&ir.BitCast{To: to}, c.In(0))
	})
}

// castOp reads the attributes Cast and CastLike share: saturate (opset 19)
// and round_mode (opset 24).
func castOp(c *nodeCtx, to ir.DType) (*ir.Cast, error) {
	op := &ir.Cast{To: to, Saturate: true, RoundMode: ir.RoundUp}
	if c.Version >= 19 {
		op.Saturate = c.Int("saturate", 1) != 0
	}
	if c.Version >= 24 {
		s := c.String("round_mode", "up")
		m, ok := ir.ParseRoundMode(s)
		if !ok {
			return nil, fmt.Errorf("round_mode %q is not up, down or nearest", s)
		}
		op.RoundMode = m
	}
	return op, nil
}
