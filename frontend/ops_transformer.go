package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// RotaryEmbedding, LinearAttention, CausalConvWithState, SwiGLU.

func init() {
	register("RotaryEmbedding", []int{23}, "", func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		op := &ir.RotaryEmbedding{
			Interleaved: c.Int("interleaved", 0) != 0,
			RotaryDim:   c.Int("rotary_embedding_dim", 0),
			NumHeads:    c.Int("num_heads", 0),
		}
		return c.Emit(op, c.In(0), c.In(1), c.In(2), c.In(3))
	})
	register("LinearAttention", []int{27}, "", func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		rule, err := c.OneOf("update_rule", "gated_delta", "linear", "gated", "delta", "gated_delta")
		if err != nil {
			return err
		}
		if !c.Has("q_num_heads") || !c.Has("kv_num_heads") {
			return fmt.Errorf("LinearAttention needs q_num_heads and kv_num_heads")
		}
		c.Has("chunk_size") // a tuning hint for chunked prefill; the result does not depend on it
		op := &ir.LinearAttention{
			UpdateRule: rule,
			Scale:      c.Float("scale", 0),
			QNumHeads:  c.Int("q_num_heads", 0),
			KVNumHeads: c.Int("kv_num_heads", 0),
		}
		return c.Emit(op, c.In(0), c.In(1), c.In(2), c.In(3), c.In(4), c.In(5))
	})
	register("CausalConvWithState", []int{27}, "", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		act, err := c.OneOf("activation", "none", "none", "silu", "swish")
		if err != nil {
			return err
		}
		return c.Emit(&ir.CausalConvWithState{SiLU: act != "none"}, c.In(0), c.In(1), c.In(2), c.In(3))
	})
	register("SwiGLU", []int{28}, "", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(&ir.SwiGLU{Alpha: c.Float("alpha", 1)}, c.In(0), c.In(1))
	})
}
