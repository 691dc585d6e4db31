package ir

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// InternalError is a bug in mlc met while compiling a model: a panic
// recovered in shape inference, reference evaluation, an optimization pass
// or code generation. Its message names the node and the phase and asks
// for a report; it never carries a Go stack trace, which would tell a user
// nothing (the trace is kept in Stack for a debugger or a test).
type InternalError struct {
	Where string // the node's label, or the pass when no node is known
	Phase string // "shape inference", "optimization pass fuse", ...
	Panic any
	Stack []byte
}

func (e *InternalError) Error() string {
	return fmt.Sprintf("%s: internal error in %s: %v (this is a bug in mlc: please report it, with the model)", e.Where, e.Phase, e.Panic)
}

// Recovered wraps the value of a recovered panic at a node (n may be nil,
// then where names the place).
func Recovered(n *Node, where, phase string, r any) *InternalError {
	if n != nil {
		where = n.Label()
	}
	return &InternalError{Where: where, Phase: phase, Panic: r, Stack: debug.Stack()}
}

// IsInternal reports whether err is (or wraps) an InternalError.
func IsInternal(err error) bool {
	var ie *InternalError
	return errors.As(err, &ie)
}
