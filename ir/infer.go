package ir

import (
	"errors"
	"fmt"
)

// Unsupported is the error for a model construct mlc does not implement: an
// operator, an attribute value, a dtype, a dynamic shape. mlc verify reports
// it as "unsupported" rather than "error".
type Unsupported struct {
	Where string // the node label, or "graph input x"
	What  string
	Cause error // the underlying error, if any
}

func (e *Unsupported) Error() string { return e.Where + ": unsupported: " + e.What }
func (e *Unsupported) Unwrap() error { return e.Cause }

// Unsupportedf builds an Unsupported error for a node.
func Unsupportedf(n *Node, format string, args ...any) error {
	return &Unsupported{Where: n.Label(), What: fmt.Sprintf(format, args...)}
}

// NotSupported is what an op's Infer or Eval returns for a case it does not
// handle (a dtype, an attribute value); InferGraph turns it into Unsupported
// naming the node.
type NotSupported string

func (e NotSupported) Error() string { return string(e) }

// NotSupportedf formats a NotSupported error.
func NotSupportedf(format string, args ...any) error {
	return NotSupported(fmt.Sprintf(format, args...))
}

// NotConstant is the unsupported case of a shape-determining argument (a
// Reshape shape, Slice bounds) that is computed from run-time data. Callers
// that know the run-time value can compile a module specialized on it
// (frontend.Options.InputValues).
type NotConstant struct {
	What  string // "Reshape's shape"
	Value string // the value's name
}

func (e *NotConstant) Error() string {
	return fmt.Sprintf("%s (input %q) must be known at compile time; it is computed from run-time data (a model input it depends on can be fixed with --input-value)", e.What, e.Value)
}

// IsUnsupported reports whether err is (or wraps) an Unsupported or
// NotSupported error.
func IsUnsupported(err error) bool {
	var u *Unsupported
	var n NotSupported
	var c *NotConstant
	return errors.As(err, &u) || errors.As(err, &n) || errors.As(err, &c)
}

// FoldLimit caps how much a folded node may grow the module: a node whose
// inputs are all constant is evaluated at compile time when its outputs take
// at most FoldLimit bytes more than twice its inputs. Expanding ops with
// larger outputs (ConstantOfShape, Expand, Tile) stay nodes.
const FoldLimit = 64 << 10

// InferGraph sets the type of every node output in order and folds nodes
// whose inputs are all constant. Folding is part of shape inference because
// exported graphs compute shape arguments (Reshape's shape, Slice's bounds)
// from Shape ops: only once those are constants are the shapes static.
func InferGraph(g *Graph) error {
	// Inputs as node outputs are: a hostile declared shape would
	// otherwise reach the kernels' size arithmetic.
	for _, v := range g.Inputs {
		if v.Typed() {
			if err := checkSize(v.Type); err != nil {
				return fmt.Errorf("graph input %q: %w", v.Name, err)
			}
		}
	}
	for _, n := range g.Nodes {
		if err := InferNode(n); err != nil {
			return err
		}
	}
	for _, v := range g.Outputs {
		if !v.Typed() {
			return fmt.Errorf("graph output %q is never computed", v.Name)
		}
	}
	return nil
}

// InferNode types (and where possible folds) one node.
func InferNode(n *Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Recovered(n, "", "shape inference", r)
		}
	}()
	for i, v := range n.Inputs {
		if v != nil && !v.Typed() {
			return fmt.Errorf("%s: input %d (%q) has no type: it is not a graph input, initializer or earlier node output", n.Label(), i, v.Name)
		}
	}
	folded, types, err := tryFold(n)
	if folded || err != nil {
		return err
	}
	if types == nil {
		types, err = n.Op.Infer(n.Inputs)
	}
	if err == nil {
		err = checkKernelDTypes(n) // after folding: constants need no kernel
	}
	if err != nil {
		return wrapNodeErr(n, err)
	}
	if len(types) < len(n.Outputs) {
		return fmt.Errorf("%s: has %d outputs but the op defines %d", n.Label(), len(n.Outputs), len(types))
	}
	for i, v := range n.Outputs {
		if v == nil {
			continue
		}
		if err := checkSize(types[i]); err != nil {
			return fmt.Errorf("%s: output %q: %w", n.Label(), v.Name, err)
		}
		v.SetType(types[i])
	}
	return nil
}

// MaxTensorBytes bounds any one tensor: Wasm32 memory holds at most 4 GiB.
const MaxTensorBytes = 4 << 30

// checkSize rejects shapes whose size overflows or exceeds MaxTensorBytes.
func checkSize(t Type) error {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in %s", t.Shape)
		}
		if d > 0 && n > MaxTensorBytes/int64(d) {
			return fmt.Errorf("shape %s is too large (more than %d bytes)", t.Shape, MaxTensorBytes)
		}
		n *= int64(d)
	}
	if int64(t.DType.Bytes(int(n))) > MaxTensorBytes {
		return fmt.Errorf("%s is too large (more than %d bytes)", t, MaxTensorBytes)
	}
	return nil
}

func wrapNodeErr(n *Node, err error) error {
	var ns NotSupported
	var nc *NotConstant
	if errors.As(err, &ns) || errors.As(err, &nc) {
		return &Unsupported{Where: n.Label(), What: err.Error(), Cause: err}
	}
	var u *Unsupported
	if errors.As(err, &u) {
		return err
	}
	return fmt.Errorf("%s: %w", n.Label(), err)
}

// tryFold evaluates n when all it reads is constant and its outputs are
// small enough (FoldLimit). When it inferred n's output types but did not
// fold, it returns them, so that InferNode does not infer them again.
func tryFold(n *Node) (bool, []Type, error) {
	if _, impure := n.Op.(Impure); impure || hasImpureSubgraph(n) {
		return false, nil, nil
	}
	if _, ok := n.Op.(Unfolded); ok {
		return false, nil, nil
	}
	if _, ok := n.Op.(ShapeOnly); ok {
		in := make([]*Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				in[i] = &Tensor{Type: v.Type}
			}
		}
		out, err := n.Op.Eval(in)
		if err != nil {
			return false, nil, wrapNodeErr(n, err)
		}
		for i, v := range n.Outputs {
			if v != nil {
				v.Const = out[i]
				v.SetType(out[i].Type)
			}
		}
		return true, nil, nil
	}
	inBytes := 0
	for _, v := range n.ReadValues() {
		if v.Const == nil {
			return false, nil, nil
		}
		inBytes += len(v.Const.Data)
	}
	types, err := n.Op.Infer(n.Inputs)
	if _, ok := n.Op.(Subgrapher); ok && err != nil {
		// A subgraph op folds only when its subgraphs can type themselves.
		return false, nil, wrapNodeErr(n, err)
	}
	if err == nil {
		outBytes := 0
		for i, t := range types {
			// Sizes first: an overflowing shape would pass the fold
			// limit below with a negative byte count.
			if sizeErr := checkSize(t); sizeErr != nil {
				return false, nil, fmt.Errorf("%s: output %d: %w", n.Label(), i, sizeErr)
			}
			outBytes += t.Bytes()
		}
		if outBytes > 2*inBytes+FoldLimit {
			return false, types, nil
		}
	}
	env := Env{budgetKey: TensorI64(Shape{}, FoldLoopIterations)}
	if evalErr := EvalNode(n, env); evalErr != nil {
		if errors.Is(evalErr, errBudget) {
			return false, types, nil // too long to fold: the module runs it
		}
		if err != nil && IsInternal(evalErr) {
			// Infer already refused the node (ops whose output shape
			// depends on data may still evaluate), and Eval, which
			// trusts what Infer checks, broke on it: Infer's error says
			// why.
			return false, nil, wrapNodeErr(n, err)
		}
		return false, nil, evalErr
	}
	// What Eval made must be a tensor InferNode would accept: when Infer
	// refused the node, Eval may have built one of a shape it should not
	// (ConstantOfShape of [-1]), which later nodes would trust.
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		if t := env[v]; t != nil {
			if sizeErr := checkSize(t.Type); sizeErr != nil {
				if err != nil {
					return false, nil, wrapNodeErr(n, err)
				}
				return false, nil, fmt.Errorf("%s: output %q: %w", n.Label(), v.Name, sizeErr)
			}
		}
	}
	for _, v := range n.Outputs {
		if v != nil {
			v.Const = env[v]
			v.SetType(v.Const.Type)
		}
	}
	return true, nil, nil
}
