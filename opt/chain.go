package opt

import "github.com/mlc-compiler/mlc/ir"

// fuseChains merges chains of float32 elementwise ops (unary functions,
// Clip with constant bounds, arithmetic binaries) into one FusedElementwise
// node that makes one pass over memory: a node joins the chain of the node
// it reads when that producer's output has no other reader and the shape
// does not grow. It runs after fuse, so convolution and matrix epilogues
// take their activations first.
func fuseChains(g *ir.Graph, _ *Options) error {
	for changed := true; changed; {
		changed = false
		uses := g.Uses()
		outputs := outputSet(g)
		for i, n := range g.Nodes {
			y := n.Out(0)
			if y == nil || outputs[y] || len(uses[y]) != 1 || !chainable(n) {
				continue
			}
			u := uses[y][0]
			if u == n || !chainable(u) || u.Out(0) == nil || !sameType(u.Out(0).Type, y.Type) {
				continue
			}
			if _, ok := u.Op.(*ir.FusedElementwise); ok {
				continue
			}
			if b, ok := u.Op.(*ir.Binary); ok && b != nil && u.Inputs[0] == y && u.Inputs[1] == y {
				continue // x*x reads the running value twice
			}
			fe := asChain(n)
			appendStep(fe, n, u, y)
			fe.Out = u.Out(0).Type
			n.Op = fe
			n.Outputs = []*ir.Value{u.Out(0)}
			takePlace(g, i, n, u)
			changed = true
			break
		}
	}
	return nil
}

// chainUnary lists the unary functions every kernel shape evaluates.
var chainUnary = map[ir.UnaryFn]bool{
	ir.FnAbs: true, ir.FnNeg: true, ir.FnExp: true, ir.FnLog: true, ir.FnSqrt: true, ir.FnReciprocal: true,
	ir.FnFloor: true, ir.FnCeil: true, ir.FnRound: true, ir.FnErf: true, ir.FnSign: true,
}

var chainBinary = map[ir.BinaryFn]bool{
	ir.FnAdd: true, ir.FnSub: true, ir.FnMul: true, ir.FnDiv: true, ir.FnMax: true, ir.FnMin: true, ir.FnPow: true,
}

func chainable(n *ir.Node) bool {
	for _, v := range n.Inputs {
		if v == nil || v.Type.DType != ir.Float32 {
			return false
		}
	}
	if y := n.Out(0); y == nil || y.Type.DType != ir.Float32 || len(n.Outputs) != 1 {
		return false
	}
	switch op := n.Op.(type) {
	case *ir.FusedElementwise:
		return true
	case *ir.Unary:
		return chainUnary[op.Fn] || epilogueFns[op.Fn]
	case *ir.Binary:
		return chainBinary[op.Fn] && len(n.Inputs) == 2
	case *ir.Clip:
		_, _, ok := clipBounds(n)
		return ok
	}
	return false
}

// asChain turns n into a one-step chain (n.Inputs may be rearranged).
func asChain(n *ir.Node) *ir.FusedElementwise {
	switch op := n.Op.(type) {
	case *ir.FusedElementwise:
		return op
	case *ir.Unary:
		return &ir.FusedElementwise{Steps: []ir.ChainStep{{Unary: op}}}
	case *ir.Binary:
		return &ir.FusedElementwise{Steps: []ir.ChainStep{{Binary: op, Arg: 1}}}
	case *ir.Clip:
		lo, hi, _ := clipBounds(n)
		n.Inputs = n.Inputs[:1]
		return &ir.FusedElementwise{Steps: []ir.ChainStep{{Clip: true, Lo: lo, Hi: hi}}}
	}
	return nil
}

// appendStep adds u, which reads y (n's output) once, to the chain fe.
func appendStep(fe *ir.FusedElementwise, n, u *ir.Node, y *ir.Value) {
	switch op := u.Op.(type) {
	case *ir.Unary:
		fe.Steps = append(fe.Steps, ir.ChainStep{Unary: op})
	case *ir.Clip:
		lo, hi, _ := clipBounds(u)
		fe.Steps = append(fe.Steps, ir.ChainStep{Clip: true, Lo: lo, Hi: hi})
	case *ir.Binary:
		a, b := u.Inputs[0], u.Inputs[1]
		other, left := b, false
		if b == y {
			other, left = a, true
		}
		arg := -1
		for i, v := range n.Inputs {
			if v == other {
				arg = i
			}
		}
		if arg < 0 {
			n.Inputs = append(n.Inputs, other)
			arg = len(n.Inputs) - 1
		}
		fe.Steps = append(fe.Steps, ir.ChainStep{Binary: op, Arg: arg, ArgLeft: left})
	}
}
