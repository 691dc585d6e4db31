package frontend

import (
	"errors"

	"github.com/mlc-compiler/mlc/ir"
)

func init() {
	register("Einsum", []int{12}, "", func(c *nodeCtx) error {
		if !c.Has("equation") {
			return errors.New("Einsum needs the equation attribute")
		}
		op, err := ir.ParseEinsum(c.String("equation", ""))
		if err != nil {
			return err
		}
		return c.Emit(op, c.Inputs()...)
	})
	register("Det", []int{11, 22}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Det{}, c.In(0))
	})
}
