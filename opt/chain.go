package opt

import "github.com/mlc-compiler/mlc/ir"

// fuseChains merges chains of float32 elementwise ops (unary functions,
// Clip with constant bounds, arithmetic binaries) into one FusedElementwise
// node that makes one pass over memory: a node joins the chain of the node
// it reads when that producer's output has no other reader and the shape
// does not grow. It runs after fuse, so convolution and matrix epilogues
// take their activations first.
//
// Nodes are visited in order and a merged node is visited again at the
// place it moves to, which merges what restarting from the first node
// after every merge would, in one pass (nothing before a merge point can
// become mergeable by it).
func fuseChains(g *ir.Graph, o *Options) error {
	r := newReaders(g)
	outputs := outputSet(g)
	for i := 0; i < len(g.Nodes); i++ {
		n := g.Nodes[i]
		if n == nil {
			continue
		}
		o.visit(n)
		y := n.Out(0)
		if y == nil || outputs[y] || r.only(y) == nil || !chainable(n) {
			continue
		}
		u := r.only(y)
		if u == n || !chainable(u) || u.Out(0) == nil || !sameType(u.Out(0).Type, y.Type) {
			continue
		}
		if _, ok := u.Op.(*ir.FusedElementwise); ok {
			continue
		}
		if b, ok := u.Op.(*ir.Binary); ok && b != nil && u.Inputs[0] == y && u.Inputs[1] == y {
			continue // x*x reads the running value twice
		}
		nRead, uReads := readSet(n), u.ReadValues()
		fe := asChain(n)
		appendStep(fe, n, u, y)
		fe.Out = u.Out(0).Type
		n.Op = fe
		n.Outputs = []*ir.Value{u.Out(0)}
		r.absorb(n, u, y, uReads, nRead)
	}
	r.compact()
	return nil
}

func chainable(n *ir.Node) bool {
	switch n.Op.(type) {
	case *ir.FusedElementwise, *ir.Unary, *ir.Binary, *ir.Clip:
	default:
		return false // before looking at inputs: a Concat may have 100,000
	}
	_, isClip := n.Op.(*ir.Clip)
	for i, v := range n.Inputs {
		if v == nil && isClip && i > 0 {
			continue // an omitted bound: clipBounds makes it infinite
		}
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
		return op.Fn.Chains() // ir/traits.go
	case *ir.Binary:
		return op.Fn.Chains() && len(n.Inputs) == 2
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
