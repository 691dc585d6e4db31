package codegen

import (
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A fused elementwise chain is one broadcasting loop (k.elementwise) whose
// body runs every step on the running value, in f32x4 lanes when every
// step has a vector form.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.FusedElementwise) error {
		f := k.F
		fn := ewFn{out: ir.Float32, vec: true}
		for range n.Inputs {
			fn.in = append(fn.in, ir.Float32)
		}
		for _, s := range op.Steps {
			if s.Unary != nil && !s.Unary.Fn.Vectorizes() {
				fn.vec = false
			}
		}
		fn.emit = func(args []asm.Local, vec bool) error {
			x := fxFor(f, asm.F32, vec)
			cur := x.local()
			x.get(args[0]).set(cur)
			for _, s := range op.Steps {
				switch {
				case s.Unary != nil:
					if err := k.floatUnary(x, s.Unary, cur); err != nil {
						return err
					}
				case s.Binary != nil:
					a, b := cur, args[s.Arg]
					if s.ArgLeft {
						a, b = b, a
					}
					if err := k.floatBinary(x, s.Binary.Fn, a, b); err != nil {
						return err
					}
				default:
					x.get(cur).c(float64(s.Lo)).atLeast().c(float64(s.Hi)).atMost()
				}
				x.set(cur)
			}
			x.get(cur)
			return nil
		}
		return k.elementwise(n, fn)
	})
}
