package frontend

import (
	"errors"

	"github.com/mlc-compiler/mlc/ir"
)

func init() {
	register("LRN", []int{1, 13}, "", func(c *nodeCtx) error {
		if !c.Has("size") {
			return errors.New("LRN needs the size attribute")
		}
		return c.Emit(&ir.LRN{Size: c.Int("size", 0), Alpha: c.Float("alpha", 1e-4), Beta: c.Float("beta", 0.75), Bias: c.Float("bias", 1)}, c.In(0))
	})
}
