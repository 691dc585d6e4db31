package ir

import "fmt"

// Env holds the tensors of values during interpretation. Constants are read
// from Value.Const and need not be in it.
type Env map[*Value]*Tensor

// Get returns the tensor of v: its constant or its entry in env.
func (e Env) Get(v *Value) *Tensor {
	if v == nil {
		return nil
	}
	if v.Const != nil {
		return v.Const
	}
	return e[v]
}

// Run interprets g with its inputs bound in env and returns its outputs.
func Run(g *Graph, env Env) ([]*Tensor, error) {
	for _, n := range g.Nodes {
		if err := EvalNode(n, env); err != nil {
			return nil, err
		}
	}
	out := make([]*Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = env.Get(v)
		if out[i] == nil {
			return nil, fmt.Errorf("graph output %q was not computed", v.Name)
		}
	}
	return out, nil
}

// EvalNode evaluates one node, binding its outputs in env. A panic inside an
// op's Eval becomes an error naming the node.
func EvalNode(n *Node, env Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Recovered(n, "", "reference evaluation", r)
		}
	}()
	in := make([]*Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		if in[i] = env.Get(v); in[i] == nil {
			return fmt.Errorf("%s: input %q has no value", n.Label(), v.Name)
		}
	}
	var out []*Tensor
	if s, ok := n.Op.(Subgrapher); ok {
		out, err = s.EvalScoped(env, in)
	} else {
		out, err = n.Op.Eval(in)
	}
	if err != nil {
		return wrapNodeErr(n, err)
	}
	for i, v := range n.Outputs {
		if v == nil {
			continue
		}
		if i >= len(out) || out[i] == nil {
			return fmt.Errorf("%s: output %d was not computed", n.Label(), i)
		}
		if v.Typed() && (out[i].DType != v.Type.DType || !out[i].Shape.Equal(v.Type.Shape)) {
			return fmt.Errorf("%s: output %q evaluated to %s but was inferred as %s", n.Label(), v.Name, out[i].Type, v.Type)
		}
		env[v] = out[i]
	}
	return nil
}
