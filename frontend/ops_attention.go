package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Attention (ONNX 23, 24) and FlexAttention (ai.onnx.preview 1).

func init() {
	register("Attention", []int{23, 24}, "", func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		op := &ir.Attention{
			QNumHeads:  c.Int("q_num_heads", 0),
			KVNumHeads: c.Int("kv_num_heads", 0),
			Scale:      c.Float("scale", 0),
			IsCausal:   c.Int("is_causal", 0) != 0,
			Softcap:    c.Float("softcap", 0),
			QKMode:     c.Int("qk_matmul_output_mode", 0),
			PadMask:    c.Version >= 24,
		}
		if c.Has("scale") && !(op.Scale > 0) {
			return fmt.Errorf("scale must be positive, got %v", op.Scale)
		}
		if op.QKMode < 0 || op.QKMode > 3 {
			return fmt.Errorf("qk_matmul_output_mode must be 0 to 3, got %d", op.QKMode)
		}
		var err error
		if op.SoftmaxDType, err = softmaxPrecision(c); err != nil {
			return err
		}
		ins := c.Inputs()
		max := 6
		if c.Version >= 24 {
			max = 7
		}
		if len(ins) > max {
			return fmt.Errorf("Attention-%d takes at most %d inputs, got %d", c.Version, max, len(ins))
		}
		return c.Emit(op, ins...)
	})

	registerDomain("ai.onnx.preview", "FlexAttention", []int{1}, "", func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		q, k, v := c.In(0), c.In(1), c.In(2)
		scale := c.Float("scale", 0)
		if c.Has("scale") && !(scale > 0) {
			return fmt.Errorf("scale must be positive, got %v", scale)
		}
		if q.Typed() && k.Typed() && v.Typed() {
			for _, x := range []*ir.Value{q, k, v} {
				if len(x.Type.Shape) != 4 {
					return fmt.Errorf("FlexAttention needs rank-4 Q, K and V, got %s, %s and %s", q.Type, k.Type, v.Type)
				}
			}
			if q.Type.DType != k.Type.DType || q.Type.DType != v.Type.DType {
				return fmt.Errorf("FlexAttention needs Q, K and V of one dtype, got %s, %s and %s", q.Type.DType, k.Type.DType, v.Type.DType)
			}
		}
		scoreMod, probMod := c.attr("score_mod"), c.attr("prob_mod")
		prec := ir.Float32
		if q.Type.DType == ir.Float64 {
			prec = ir.Float64
		}
		if p, err := softmaxPrecision(c); err != nil {
			return err
		} else if p != ir.Invalid {
			prec = p
		}
		if scoreMod == nil && probMod == nil {
			return c.Emit(&ir.Attention{Scale: scale, Flex: true, SoftmaxDType: prec}, q, k, v)
		}
		scores := c.Tmp1(&ir.AttentionScores{Scale: scale, DType: prec}, q, k)
		scores, err := c.inlineModifier(scoreMod, "score_mod", scores)
		if err != nil {
			return err
		}
		probs := c.Tmp1(&ir.Softmax{Kind: ir.KindSoftmax, Axis: -1}, scores)
		if probs, err = c.inlineModifier(probMod, "prob_mod", probs); err != nil {
			return err
		}
		return c.Emit(&ir.AttentionApply{}, probs, v)
	})
}

// softmaxPrecision reads the softmax_precision attribute (Invalid when
// absent).
func softmaxPrecision(c *nodeCtx) (ir.DType, error) {
	if !c.Has("softmax_precision") {
		return ir.Invalid, nil
	}
	dt, err := DTypeFromONNX(int32(c.Int("softmax_precision", 0)))
	if err != nil {
		return ir.Invalid, err
	}
	switch dt {
	case ir.Float32, ir.Float16, ir.BFloat16, ir.Float64:
		return dt, nil
	}
	return ir.Invalid, fmt.Errorf("softmax_precision must be float, float16, bfloat16 or double, got %s", dt)
}

// inlineModifier imports a FlexAttention modifier graph (one tensor in, one
// out) into the node's graph with its input bound to x, and returns its
// output. A nil attribute is the identity.
func (c *nodeCtx) inlineModifier(a *onnxpb.AttributeProto, name string, x *ir.Value) (*ir.Value, error) {
	if a == nil {
		return x, nil
	}
	gp := a.G
	if gp == nil || len(gp.Input) != 1 || len(gp.Output) != 1 {
		return nil, fmt.Errorf("%s must be a graph with one input and one output", name)
	}
	sc := &scope{vals: map[string]*ir.Value{gp.Input[0].GetName(): x}, parent: c.sc}
	for _, tp := range gp.Initializer {
		t, err := TensorFromProto(tp, c.b.dir)
		if err != nil {
			return nil, fmt.Errorf("%s initializer: %w", name, err)
		}
		sc.vals[tp.GetName()] = ir.NewConst(tp.GetName(), t)
	}
	for _, np := range gp.Node {
		if err := c.b.node(np, c.g, sc); err != nil {
			return nil, fmt.Errorf("in %s: %w", name, err)
		}
	}
	out := sc.lookup(gp.Output[0].GetName())
	if out == nil {
		return nil, fmt.Errorf("%s output %q is not produced", name, gp.Output[0].GetName())
	}
	if out.Typed() && x.Typed() && !out.Type.Shape.Equal(x.Type.Shape) {
		return nil, fmt.Errorf("%s changes the shape %s to %s", name, x.Type.Shape, out.Type.Shape)
	}
	return out, nil
}
