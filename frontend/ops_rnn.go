package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Recurrent layers: RNN, GRU, LSTM.

func init() {
	rnn := func(kind ir.RNNKind, versions []int) {
		register(string(kind), versions, "", func(c *nodeCtx) error {
			return importRNN(c, kind)
		})
	}
	rnn(ir.KindRNN, []int{1, 7, 14, 22})
	rnn(ir.KindGRU, []int{1, 3, 7, 14, 22})
	rnn(ir.KindLSTM, []int{1, 7, 14, 22})
}

func importRNN(c *nodeCtx, kind ir.RNNKind) error {
	if err := c.Need(3); err != nil {
		return err
	}
	dir, err := c.OneOf("direction", "forward", "forward", "reverse", "bidirectional")
	if err != nil {
		return err
	}
	op := &ir.RNN{Kind: kind, Direction: dir, HiddenSize: c.Int("hidden_size", 0)}
	if c.Version == 1 {
		// output_sequence only made Y optional; Y is computed when the
		// model names it.
		c.Has("output_sequence")
	}
	if c.Has("clip") {
		op.Clip = c.Float("clip", 0)
		if !(op.Clip > 0) {
			return fmt.Errorf("clip must be positive, got %v", op.Clip)
		}
	}
	if c.Version >= 14 {
		op.Layout = c.Int("layout", 0)
		if op.Layout != 0 && op.Layout != 1 {
			return fmt.Errorf("layout must be 0 or 1, got %d", op.Layout)
		}
	}
	switch kind {
	case ir.KindLSTM:
		op.InputForget = c.Int("input_forget", 0) != 0
	case ir.KindGRU:
		if c.Version >= 3 {
			op.LinearBeforeReset = c.Int("linear_before_reset", 0) != 0
		}
	}
	op.Activations, err = ir.ResolveRNNActivations(kind, op.Dirs(),
		c.Strings("activations", nil), c.Floats("activation_alpha", nil), c.Floats("activation_beta", nil))
	if err != nil {
		return err
	}
	ins := c.Inputs()
	if len(ins) > 8 {
		ins = ins[:8]
	}
	return c.Emit(op, ins...)
}
