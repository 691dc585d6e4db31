package ir

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The dtypes the code generator's kernels take. An op's shape rule says
// which dtypes the operator has a meaning for; where a kernel computes on
// fewer (Conv has none for bfloat16), the kernel declares them here, from
// codegen's init, and InferNode refuses the rest, so that the model fails
// at import naming the node, the op, the opset and the dtype instead of
// in code generation. mlc ops and docs/ops.md list the same declarations.
// A program that links no code generator (the interpreter alone) declares
// nothing and keeps every dtype the shape rules accept.

var kernelDTypes = map[reflect.Type][]DType{}

// DeclareKernelDTypes says that the kernel of op type T computes on data
// (input 0) of these dtypes only. A second declaration for T panics.
func DeclareKernelDTypes[T Op](dts ...DType) {
	t := reflect.TypeFor[T]()
	if _, dup := kernelDTypes[t]; dup {
		panic("ir: a second dtype declaration for " + t.String())
	}
	kernelDTypes[t] = slices.Clone(dts)
}

// KernelDTypes is what op's kernel declared it takes, nil for no
// restriction beyond the op's shape rule.
func KernelDTypes(op Op) []DType { return kernelDTypes[reflect.TypeOf(op)] }

// KernelDTypesByOp lists the declarations by operator name (OpType), for
// mlc ops and docs/ops.md.
func KernelDTypesByOp() map[string][]DType {
	out := map[string][]DType{}
	for t, dts := range kernelDTypes {
		op := reflect.New(t).Elem().Interface().(Op) // a nil *T names its op
		out[op.OpType()] = dts
	}
	return out
}

// DTypeError is an op on a dtype its kernel does not take; it is
// unsupported (errors.As finds NotSupported in it).
type DTypeError struct {
	Op    string
	DType DType
	Takes []DType
}

func (e *DTypeError) Error() string {
	return fmt.Sprintf("%s on %s: mlc's kernel takes %s", e.Op, e.DType, DTypeList(e.Takes))
}

func (e *DTypeError) Unwrap() error { return NotSupported(e.Error()) }

// DTypeList prints dtypes as "float16, float32, float64".
func DTypeList(dts []DType) string {
	s := make([]string, len(dts))
	for i, d := range dts {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

// checkKernelDTypes refuses a node whose data dtype its kernel does not
// take.
func checkKernelDTypes(n *Node) error {
	takes := KernelDTypes(n.Op)
	x := n.In(0)
	if takes == nil || x == nil || slices.Contains(takes, x.Type.DType) {
		return nil
	}
	return &DTypeError{Op: n.Op.OpType(), DType: x.Type.DType, Takes: takes}
}
