package ir

import (
	"fmt"
	"math"
)

// Elementwise operators: one struct for all unary functions and one for all
// binary ones, each function defined once in a table. Codegen lowers the same
// function names to Wasm.

// UnaryFn names an elementwise function of one tensor.
type UnaryFn string

const (
	FnAbs             UnaryFn = "Abs"
	FnNeg             UnaryFn = "Neg"
	FnRelu            UnaryFn = "Relu"
	FnSigmoid         UnaryFn = "Sigmoid"
	FnTanh            UnaryFn = "Tanh"
	FnExp             UnaryFn = "Exp"
	FnLog             UnaryFn = "Log"
	FnSqrt            UnaryFn = "Sqrt"
	FnReciprocal      UnaryFn = "Reciprocal"
	FnFloor           UnaryFn = "Floor"
	FnCeil            UnaryFn = "Ceil"
	FnRound           UnaryFn = "Round"
	FnSin             UnaryFn = "Sin"
	FnCos             UnaryFn = "Cos"
	FnTan             UnaryFn = "Tan"
	FnAsin            UnaryFn = "Asin"
	FnAcos            UnaryFn = "Acos"
	FnAtan            UnaryFn = "Atan"
	FnSinh            UnaryFn = "Sinh"
	FnCosh            UnaryFn = "Cosh"
	FnAsinh           UnaryFn = "Asinh"
	FnAcosh           UnaryFn = "Acosh"
	FnAtanh           UnaryFn = "Atanh"
	FnErf             UnaryFn = "Erf"
	FnSign            UnaryFn = "Sign"
	FnSoftplus        UnaryFn = "Softplus"
	FnSoftsign        UnaryFn = "Softsign"
	FnElu             UnaryFn = "Elu"
	FnSelu            UnaryFn = "Selu"
	FnCelu            UnaryFn = "Celu"
	FnLeakyRelu       UnaryFn = "LeakyRelu"
	FnHardSigmoid     UnaryFn = "HardSigmoid"
	FnHardSwish       UnaryFn = "HardSwish"
	FnThresholdedRelu UnaryFn = "ThresholdedRelu"
	FnMish            UnaryFn = "Mish"
	FnGelu            UnaryFn = "Gelu"
	FnGeluTanh        UnaryFn = "GeluTanh" // Gelu with approximate="tanh"
	FnSwish           UnaryFn = "Swish"    // x*sigmoid(alpha*x)
	FnShrink          UnaryFn = "Shrink"
	FnNot             UnaryFn = "Not"
	FnIsNaN           UnaryFn = "IsNaN"
	FnIsInf           UnaryFn = "IsInf"
	FnBitwiseNot      UnaryFn = "BitwiseNot"
)

// unaryDef is the reference semantics of one unary function. f is the float
// semantics (computed in float64, rounded to the output type); i the integer
// semantics, nil when the function is float-only.
type unaryDef struct {
	f       func(x float64, p *Unary) float64
	i       func(x int64, p *Unary) int64
	u       func(x uint64) uint64 // unsigned semantics where they differ
	boolOut bool
}

func unsignedIdentity(x uint64) uint64 { return x }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

var unaryDefs = map[UnaryFn]unaryDef{
	FnAbs:        {f: func(x float64, _ *Unary) float64 { return math.Abs(x) }, i: func(x int64, _ *Unary) int64 { return max(x, -x) }, u: unsignedIdentity},
	FnNeg:        {f: func(x float64, _ *Unary) float64 { return -x }, i: func(x int64, _ *Unary) int64 { return -x }},
	FnRelu:       {f: func(x float64, _ *Unary) float64 { return max(x, 0) }, i: func(x int64, _ *Unary) int64 { return max(x, 0) }, u: unsignedIdentity},
	FnSigmoid:    {f: func(x float64, _ *Unary) float64 { return sigmoid(x) }},
	FnTanh:       {f: func(x float64, _ *Unary) float64 { return math.Tanh(x) }},
	FnExp:        {f: func(x float64, _ *Unary) float64 { return math.Exp(x) }},
	FnLog:        {f: func(x float64, _ *Unary) float64 { return math.Log(x) }},
	FnSqrt:       {f: func(x float64, _ *Unary) float64 { return math.Sqrt(x) }},
	FnReciprocal: {f: func(x float64, _ *Unary) float64 { return 1 / x }},
	FnFloor:      {f: func(x float64, _ *Unary) float64 { return math.Floor(x) }},
	FnCeil:       {f: func(x float64, _ *Unary) float64 { return math.Ceil(x) }},
	FnRound:      {f: func(x float64, _ *Unary) float64 { return math.RoundToEven(x) }},
	FnSin:        {f: func(x float64, _ *Unary) float64 { return math.Sin(x) }},
	FnCos:        {f: func(x float64, _ *Unary) float64 { return math.Cos(x) }},
	FnTan:        {f: func(x float64, _ *Unary) float64 { return math.Tan(x) }},
	FnAsin:       {f: func(x float64, _ *Unary) float64 { return math.Asin(x) }},
	// math.Acos is pi/2 - asin(x), which cancels near 1.
	FnAcos:  {f: func(x float64, _ *Unary) float64 { return 2 * math.Atan(math.Sqrt((1-x)/(1+x))) }},
	FnAtan:  {f: func(x float64, _ *Unary) float64 { return math.Atan(x) }},
	FnSinh:  {f: func(x float64, _ *Unary) float64 { return math.Sinh(x) }},
	FnCosh:  {f: func(x float64, _ *Unary) float64 { return math.Cosh(x) }},
	FnAsinh: {f: func(x float64, _ *Unary) float64 { return math.Asinh(x) }},
	FnAcosh: {f: func(x float64, _ *Unary) float64 { return math.Acosh(x) }},
	FnAtanh: {f: func(x float64, _ *Unary) float64 { return math.Atanh(x) }},
	FnErf:   {f: func(x float64, _ *Unary) float64 { return math.Erf(x) }},
	FnSign: {f: func(x float64, _ *Unary) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x // 0, -0 and NaN stay
	}, i: func(x int64, _ *Unary) int64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}, u: func(x uint64) uint64 { return uint64(b2i(x != 0)) }},
	FnSoftplus: {f: func(x float64, _ *Unary) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }},
	FnSoftsign: {f: func(x float64, _ *Unary) float64 { return x / (1 + math.Abs(x)) }},
	FnElu: {f: func(x float64, p *Unary) float64 {
		if x < 0 {
			return float64(p.Alpha) * (math.Exp(x) - 1)
		}
		return x
	}},
	FnSelu: {f: func(x float64, p *Unary) float64 {
		if x <= 0 {
			return float64(p.Gamma) * (float64(p.Alpha)*math.Exp(x) - float64(p.Alpha))
		}
		return float64(p.Gamma) * x
	}},
	FnCelu: {f: func(x float64, p *Unary) float64 {
		a := float64(p.Alpha)
		return max(0, x) + min(0, a*(math.Exp(x/a)-1))
	}},
	FnLeakyRelu: {f: func(x float64, p *Unary) float64 {
		if x < 0 {
			return float64(p.Alpha) * x
		}
		return x
	}},
	FnHardSigmoid: {f: func(x float64, p *Unary) float64 {
		return max(0, min(1, float64(p.Alpha)*x+float64(p.Beta)))
	}},
	FnHardSwish: {f: func(x float64, _ *Unary) float64 { return x * max(0, min(1, x/6+0.5)) }},
	FnThresholdedRelu: {f: func(x float64, p *Unary) float64 {
		if x > float64(p.Alpha) {
			return x
		}
		return 0
	}},
	FnMish: {f: func(x float64, _ *Unary) float64 { return x * math.Tanh(math.Log1p(math.Exp(x))) }},
	FnGelu: {f: func(x float64, _ *Unary) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }},
	FnGeluTanh: {f: func(x float64, _ *Unary) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}},
	FnSwish: {f: func(x float64, p *Unary) float64 { return x * sigmoid(float64(p.Alpha)*x) }},
	FnShrink: {f: func(x float64, p *Unary) float64 {
		l, b := float64(p.Alpha), float64(p.Beta)
		switch {
		case x < -l:
			return x + b
		case x > l:
			return x - b
		}
		return 0
	}, i: func(x int64, p *Unary) int64 {
		l, b := float64(p.Alpha), float64(p.Beta)
		switch {
		case float64(x) < -l:
			return int64(float64(x) + b)
		case float64(x) > l:
			return int64(float64(x) - b)
		}
		return 0
	}},
	FnNot:   {i: func(x int64, _ *Unary) int64 { return b2i(x == 0) }},
	FnIsNaN: {f: func(x float64, _ *Unary) float64 { return b2f(x != x) }, boolOut: true},
	FnIsInf: {f: func(x float64, p *Unary) float64 {
		return b2f((p.Alpha != 0 && math.IsInf(x, 1)) || (p.Beta != 0 && math.IsInf(x, -1)))
	}, boolOut: true},
	FnBitwiseNot: {i: func(x int64, _ *Unary) int64 { return ^x }},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Unary applies Fn elementwise. Alpha, Beta and Gamma carry the function's
// attributes (LeakyRelu's alpha, HardSigmoid's alpha and beta, Selu's gamma,
// Shrink's lambd and bias as Alpha and Beta, IsInf's detect flags).
type Unary struct {
	Fn                 UnaryFn
	Alpha, Beta, Gamma float32
}

func (u *Unary) OpType() string { return string(u.Fn) }

func (u *Unary) def() (unaryDef, error) {
	d, ok := unaryDefs[u.Fn]
	if !ok {
		return d, fmt.Errorf("unknown unary function %s", u.Fn)
	}
	return d, nil
}

func (u *Unary) Infer(in []*Value) ([]Type, error) {
	d, err := u.def()
	if err != nil {
		return nil, err
	}
	t := in[0].Type
	switch {
	case t.DType.IsFloat() && d.f == nil:
		return nil, NotSupportedf("%s is not defined for %s", u.Fn, t.DType)
	case !t.DType.IsFloat() && d.i == nil:
		return nil, NotSupportedf("%s is not defined for %s", u.Fn, t.DType)
	}
	if d.boolOut {
		return Types(Type{Bool, t.Shape}), nil
	}
	return Types(t), nil
}

func (u *Unary) Eval(in []*Tensor) ([]*Tensor, error) {
	d, err := u.def()
	if err != nil {
		return nil, err
	}
	x := in[0]
	dt := x.DType
	if d.boolOut {
		dt = Bool
	}
	out := NewTensor(dt, x.Shape)
	n := x.Len()
	if x.DType.IsFloat() {
		for i := 0; i < n; i++ {
			out.SetFloat(i, d.f(x.Float(i), u))
		}
		return []*Tensor{out}, nil
	}
	if x.DType.IsUnsigned() && d.u != nil {
		for i := 0; i < n; i++ {
			out.SetInt(i, int64(d.u(x.Uint(i))))
		}
		return []*Tensor{out}, nil
	}
	for i := 0; i < n; i++ {
		out.SetInt(i, d.i(x.Int(i), u))
	}
	return []*Tensor{out}, nil
}

// BinaryFn names an elementwise function of two broadcast tensors.
type BinaryFn string

const (
	FnAdd            BinaryFn = "Add"
	FnSub            BinaryFn = "Sub"
	FnMul            BinaryFn = "Mul"
	FnDiv            BinaryFn = "Div"
	FnPow            BinaryFn = "Pow"
	FnMod            BinaryFn = "Mod"  // integer Mod, sign of the divisor (fmod=0)
	FnFmod           BinaryFn = "Fmod" // C fmod, sign of the dividend (fmod=1)
	FnMax            BinaryFn = "Max"
	FnMin            BinaryFn = "Min"
	FnAnd            BinaryFn = "And"
	FnOr             BinaryFn = "Or"
	FnXor            BinaryFn = "Xor"
	FnEqual          BinaryFn = "Equal"
	FnLess           BinaryFn = "Less"
	FnLessOrEqual    BinaryFn = "LessOrEqual"
	FnGreater        BinaryFn = "Greater"
	FnGreaterOrEqual BinaryFn = "GreaterOrEqual"
	FnBitShiftLeft   BinaryFn = "BitShiftLeft"
	FnBitShiftRight  BinaryFn = "BitShiftRight"
	FnBitwiseAnd     BinaryFn = "BitwiseAnd"
	FnBitwiseOr      BinaryFn = "BitwiseOr"
	FnBitwiseXor     BinaryFn = "BitwiseXor"
	FnPRelu          BinaryFn = "PRelu"
	// FnDivOrZero is a/b with 0 where b == 0 (LpNormalization's zero norm).
	FnDivOrZero BinaryFn = "DivOrZero"
)

type binaryDef struct {
	f       func(a, b float64) float64
	i       func(a, b int64) int64
	u       func(a, b uint64) uint64 // unsigned semantics where they differ
	boolOut bool
	// mixed: the second operand may have another dtype (Pow's exponent).
	mixed bool
}

func cmpDef(f func(a, b float64) bool, i func(a, b int64) bool, u func(a, b uint64) bool) binaryDef {
	return binaryDef{
		f:       func(a, b float64) float64 { return b2f(f(a, b)) },
		i:       func(a, b int64) int64 { return b2i(i(a, b)) },
		u:       func(a, b uint64) uint64 { return uint64(b2i(u(a, b))) },
		boolOut: true,
	}
}

var binaryDefs = map[BinaryFn]binaryDef{
	FnAdd: {f: func(a, b float64) float64 { return a + b }, i: func(a, b int64) int64 { return a + b }},
	FnSub: {f: func(a, b float64) float64 { return a - b }, i: func(a, b int64) int64 { return a - b }},
	FnMul: {f: func(a, b float64) float64 { return a * b }, i: func(a, b int64) int64 { return a * b }},
	FnDiv: {f: func(a, b float64) float64 { return a / b }, i: func(a, b int64) int64 {
		if b == 0 {
			return 0 // undefined in ONNX; Wasm would trap, codegen guards the same way
		}
		if b == -1 {
			return -a
		}
		return a / b
	}, u: func(a, b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return a / b
	}},
	FnDivOrZero: {f: func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}},
	FnPow: {f: math.Pow, i: ipow, u: upow, mixed: true},
	FnMod: {f: func(a, b float64) float64 {
		m := math.Mod(a, b)
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		return m
	}, i: func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		if b == -1 {
			return 0
		}
		m := a % b
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		return m
	}, u: func(a, b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return a % b
	}},
	FnFmod: {f: math.Mod, i: func(a, b int64) int64 {
		if b == 0 || b == -1 {
			return 0
		}
		return a % b
	}, u: func(a, b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return a % b
	}},
	FnMax: {f: func(a, b float64) float64 {
		if a != a || b != b {
			return math.NaN()
		}
		return max(a, b)
	}, i: func(a, b int64) int64 { return max(a, b) }, u: func(a, b uint64) uint64 { return max(a, b) }},
	FnMin: {f: func(a, b float64) float64 {
		if a != a || b != b {
			return math.NaN()
		}
		return min(a, b)
	}, i: func(a, b int64) int64 { return min(a, b) }, u: func(a, b uint64) uint64 { return min(a, b) }},
	FnAnd:            {i: func(a, b int64) int64 { return b2i(a != 0 && b != 0) }, boolOut: true},
	FnOr:             {i: func(a, b int64) int64 { return b2i(a != 0 || b != 0) }, boolOut: true},
	FnXor:            {i: func(a, b int64) int64 { return b2i((a != 0) != (b != 0)) }, boolOut: true},
	FnEqual:          cmpDef(func(a, b float64) bool { return a == b }, func(a, b int64) bool { return a == b }, func(a, b uint64) bool { return a == b }),
	FnLess:           cmpDef(func(a, b float64) bool { return a < b }, func(a, b int64) bool { return a < b }, func(a, b uint64) bool { return a < b }),
	FnLessOrEqual:    cmpDef(func(a, b float64) bool { return a <= b }, func(a, b int64) bool { return a <= b }, func(a, b uint64) bool { return a <= b }),
	FnGreater:        cmpDef(func(a, b float64) bool { return a > b }, func(a, b int64) bool { return a > b }, func(a, b uint64) bool { return a > b }),
	FnGreaterOrEqual: cmpDef(func(a, b float64) bool { return a >= b }, func(a, b int64) bool { return a >= b }, func(a, b uint64) bool { return a >= b }),
	FnBitShiftLeft: {i: func(a, b int64) int64 {
		if uint64(b) >= 64 {
			return 0
		}
		return a << uint64(b)
	}},
	FnBitShiftRight: {u: func(a, b uint64) uint64 {
		if b >= 64 {
			return 0
		}
		return a >> b
	}},
	FnBitwiseAnd: {i: func(a, b int64) int64 { return a & b }},
	FnBitwiseOr:  {i: func(a, b int64) int64 { return a | b }},
	FnBitwiseXor: {i: func(a, b int64) int64 { return a ^ b }},
	FnPRelu: {f: func(a, b float64) float64 {
		if a < 0 {
			return a * b
		}
		return a
	}, i: func(a, b int64) int64 {
		if a < 0 {
			return a * b
		}
		return a
	}},
}

func ipow(a, b int64) int64 {
	if b < 0 {
		switch a {
		case 1:
			return 1
		case -1:
			if b%2 == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	// Products wrap the same in two's complement as unsigned.
	return int64(upow(uint64(a), uint64(b)))
}

// upow is ipow for unsigned operands: the exponent is never negative.
func upow(a, b uint64) uint64 {
	r := uint64(1)
	for b > 0 {
		if b&1 == 1 {
			r *= a
		}
		a *= a
		b >>= 1
	}
	return r
}

// Binary applies Fn elementwise with numpy broadcasting.
type Binary struct{ Fn BinaryFn }

func (b *Binary) OpType() string { return string(b.Fn) }

func (b *Binary) def() (binaryDef, error) {
	d, ok := binaryDefs[b.Fn]
	if !ok {
		return d, fmt.Errorf("unknown binary function %s", b.Fn)
	}
	return d, nil
}

func (b *Binary) Infer(in []*Value) ([]Type, error) {
	d, err := b.def()
	if err != nil {
		return nil, err
	}
	x, y := in[0].Type, in[1].Type
	if x.DType != y.DType && !d.mixed {
		return nil, fmt.Errorf("%s operands differ in dtype: %s and %s", b.Fn, x.DType, y.DType)
	}
	dt := x.DType
	switch {
	case dt == String:
		if b.Fn != FnEqual {
			return nil, NotSupportedf("%s on strings", b.Fn)
		}
	case dt.IsFloat() && d.f == nil:
		return nil, NotSupportedf("%s is not defined for %s", b.Fn, dt)
	case !dt.IsFloat() && d.i == nil && d.u == nil:
		return nil, NotSupportedf("%s is not defined for %s", b.Fn, dt)
	case dt.IsSigned() && d.i == nil:
		return nil, NotSupportedf("%s is not defined for %s", b.Fn, dt)
	}
	shape, err := BroadcastShapes(x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	if d.boolOut {
		dt = Bool
	}
	return Types(Type{dt, shape}), nil
}

func (b *Binary) Eval(in []*Tensor) ([]*Tensor, error) {
	d, err := b.def()
	if err != nil {
		return nil, err
	}
	x, y := in[0], in[1]
	shape, err := BroadcastShapes(x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	dt := x.DType
	if d.boolOut {
		dt = Bool
	}
	out := NewTensor(dt, shape)
	strides := [][]int{BroadcastStrides(x.Shape, shape), BroadcastStrides(y.Shape, shape)}
	switch {
	case x.DType == String:
		ForEachIndex(shape, strides, func(o int, offs []int) {
			out.SetInt(o, b2i(x.Strings[offs[0]] == y.Strings[offs[1]]))
		})
	case x.DType.IsFloat() || y.DType.IsFloat(): // y alone: Pow(int, float)
		ForEachIndex(shape, strides, func(o int, offs []int) {
			out.SetFloat(o, d.f(x.Float(offs[0]), y.Float(offs[1])))
		})
	case (x.DType.IsUnsigned() || x.DType == Bool) && d.u != nil:
		ForEachIndex(shape, strides, func(o int, offs []int) {
			out.SetInt(o, int64(d.u(x.Uint(offs[0]), y.Uint(offs[1]))))
		})
	case d.i != nil:
		ForEachIndex(shape, strides, func(o int, offs []int) {
			out.SetInt(o, d.i(x.Int(offs[0]), y.Int(offs[1])))
		})
	default:
		ForEachIndex(shape, strides, func(o int, offs []int) {
			out.SetInt(o, int64(d.u(x.Uint(offs[0]), y.Uint(offs[1]))))
		})
	}
	return []*Tensor{out}, nil
}

// Clip clamps to [min, max]; the bounds are optional scalar inputs 1 and 2
// (the frontend turns the attributes of Clip before opset 11 into inputs).
type Clip struct{}

func (*Clip) OpType() string { return "Clip" }

func (*Clip) Infer(in []*Value) ([]Type, error) {
	if err := SameType(in, 0, 1, 2); err != nil {
		return nil, err
	}
	for i := 1; i < 3; i++ {
		if v := getIn(in, i); v != nil && v.Type.Shape.Size() != 1 {
			return nil, fmt.Errorf("Clip bound %d must be a scalar, got shape %s", i, v.Type.Shape)
		}
	}
	return Types(in[0].Type), nil
}

func (*Clip) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	out := NewTensor(x.DType, x.Shape)
	lo, hi := getT(in, 1), getT(in, 2)
	if x.DType.IsFloat() {
		l, h := math.Inf(-1), math.Inf(1)
		if lo != nil {
			l = lo.Float(0)
		}
		if hi != nil {
			h = hi.Float(0)
		}
		for i := range x.Len() {
			v := x.Float(i)
			if v == v {
				v = min(max(v, l), h)
			}
			out.SetFloat(i, v)
		}
		return []*Tensor{out}, nil
	}
	unsigned := x.DType.IsUnsigned()
	for i := range x.Len() {
		v := x.Int(i)
		if lo != nil {
			if l := lo.Int(0); (unsigned && uint64(v) < uint64(l)) || (!unsigned && v < l) {
				v = l
			}
		}
		if hi != nil {
			if h := hi.Int(0); (unsigned && uint64(v) > uint64(h)) || (!unsigned && v > h) {
				v = h
			}
		}
		out.SetInt(i, v)
	}
	return []*Tensor{out}, nil
}

func getIn(in []*Value, i int) *Value {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func getT(in []*Tensor, i int) *Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}
