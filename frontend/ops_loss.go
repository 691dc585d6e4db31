package frontend

import "github.com/mlc-compiler/mlc/ir"

func init() {
	loss := func(c *nodeCtx) (ir.NLLLoss, error) {
		red, err := c.OneOf("reduction", ir.LossMean, ir.LossNone, ir.LossSum, ir.LossMean)
		if err != nil {
			return ir.NLLLoss{}, err
		}
		return ir.NLLLoss{Reduction: red, HasIgnore: c.Has("ignore_index"), IgnoreIndex: int64(c.Int("ignore_index", 0))}, nil
	}
	register("NegativeLogLikelihoodLoss", []int{12, 13, 22}, "", func(c *nodeCtx) error {
		l, err := loss(c)
		if err != nil {
			return err
		}
		return c.Emit(&l, c.Inputs()...)
	})
	register("SoftmaxCrossEntropyLoss", []int{12, 13}, "", func(c *nodeCtx) error {
		l, err := loss(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.SoftmaxCrossEntropyLoss{NLLLoss: l}, c.Inputs()...)
	})
}
