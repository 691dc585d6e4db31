package ir

import (
	"errors"
	"fmt"
)

// Compile-time budgets. A model is untrusted input: a 200-byte file must
// not make the compiler allocate gigabytes or loop for hours. Sizes that
// the model's own bytes already pay for (its weights) are not limited
// here; what is limited is what the compiler builds from numbers the model
// states: tap tables, densified sparse tensors, evaluation while folding.

// MaxCompileBytes bounds one buffer of that kind. A legitimate model needs
// far less (a Resize to 8192 pixels has tables of a few hundred KB); a
// module's data must also stay well below engines' module size limits.
var MaxCompileBytes int64 = 1 << 30

// CheckAlloc returns an error when a buffer of bytes (computed in float64,
// so that a hostile size cannot overflow on the way) exceeds
// MaxCompileBytes; what names it for the message.
func CheckAlloc(what string, bytes float64) error {
	if !(bytes <= float64(MaxCompileBytes)) { // NaN included
		return fmt.Errorf("%s would take %.4g bytes at compile time, more than the compiler's budget of %d MiB", what, bytes, MaxCompileBytes>>20)
	}
	return nil
}

// FoldLoopIterations bounds the loop iterations (all Loops together,
// nested ones included) that folding one node may evaluate at compile
// time; a Loop that would run longer stays a node and runs in the module,
// under its own bound (--max-loop-iterations).
const FoldLoopIterations = 1 << 16

// errBudget is what evaluation returns once its budget is spent.
var errBudget = errors.New("the compile-time evaluation budget is spent")

// budgetKey holds, in an Env, the iterations that evaluation may still run
// (no entry: unlimited, as in tests that use the interpreter as a model's
// reference).
var budgetKey = &Value{Name: "<loop iteration budget>"}

// spendIteration takes one loop iteration from env's budget.
func (e Env) spendIteration() error {
	t := e[budgetKey]
	if t == nil {
		return nil
	}
	left := t.Int(0)
	if left <= 0 {
		return errBudget
	}
	t.SetInt(0, left-1)
	return nil
}
