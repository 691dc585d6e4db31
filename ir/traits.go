package ir

import "fmt"

// The traits of the elementwise functions: what the optimizer may fuse or
// chain and what the kernels evaluate in f32x4 lanes, said once per
// function so that opt's fuse and chain passes and codegen's elementwise
// kernels cannot disagree.

// FnTraits are the traits of one unary function (a bit set).
type FnTraits uint8

const (
	// TraitVector: the float32 kernels evaluate it in f32x4 lanes.
	TraitVector FnTraits = 1 << iota
	// TraitEpilogue: convolution and matrix kernels apply it to their
	// results in f32x4 lanes, so fuse absorbs it into their epilogues.
	TraitEpilogue
	// TraitChain: every kernel shape of a FusedElementwise chain
	// evaluates it on float32, so chain merges it into a chain.
	// Epilogue functions chain too.
	TraitChain
)

const (
	vecOnly  = TraitVector
	vecChain = TraitVector | TraitChain
	vecAct   = TraitVector | TraitEpilogue | TraitChain
)

var unaryTraits = map[UnaryFn]FnTraits{
	FnAbs: vecChain, FnNeg: vecChain, FnExp: vecChain, FnLog: vecChain, FnSqrt: vecChain, FnReciprocal: vecChain,
	FnFloor: vecChain, FnCeil: vecChain, FnRound: vecChain, FnErf: vecChain, FnSign: vecChain,

	FnRelu: vecAct, FnLeakyRelu: vecAct, FnSigmoid: vecAct, FnTanh: vecAct, FnHardSigmoid: vecAct,
	FnHardSwish: vecAct, FnElu: vecAct, FnSelu: vecAct, FnCelu: vecAct, FnGelu: vecAct, FnGeluTanh: vecAct,
	FnSwish: vecAct, FnMish: vecAct, FnSoftplus: vecAct, FnSoftsign: vecAct, FnThresholdedRelu: vecAct,

	FnShrink: vecOnly, FnSin: vecOnly, FnCos: vecOnly, FnTan: vecOnly, FnAsin: vecOnly, FnAcos: vecOnly, FnAtan: vecOnly,
	FnSinh: vecOnly, FnCosh: vecOnly, FnAsinh: vecOnly, FnAcosh: vecOnly, FnAtanh: vecOnly,
}

// binaryChains lists the binary functions a FusedElementwise chain
// evaluates (in f32x4 lanes and scalar).
var binaryChains = map[BinaryFn]bool{
	FnAdd: true, FnSub: true, FnMul: true, FnDiv: true, FnMax: true, FnMin: true, FnPow: true,
}

func init() {
	for f, t := range unaryTraits {
		if _, ok := unaryDefs[f]; !ok {
			panic(fmt.Sprintf("ir: traits of unknown unary function %s", f))
		}
		if t&(TraitEpilogue|TraitChain) != 0 && t&TraitVector == 0 {
			panic(fmt.Sprintf("ir: unary function %s fuses or chains but has no f32x4 form", f))
		}
	}
	for f := range binaryChains {
		if _, ok := binaryDefs[f]; !ok {
			panic(fmt.Sprintf("ir: traits of unknown binary function %s", f))
		}
	}
}

// Traits are f's traits.
func (f UnaryFn) Traits() FnTraits { return unaryTraits[f] }

// Vectorizes tells whether the float32 kernels evaluate f in f32x4 lanes.
func (f UnaryFn) Vectorizes() bool { return unaryTraits[f]&TraitVector != 0 }

// FusesAsEpilogue tells whether convolution and matrix kernels apply f to
// their results (fuse absorbs it).
func (f UnaryFn) FusesAsEpilogue() bool { return unaryTraits[f]&TraitEpilogue != 0 }

// Chains tells whether f may be a step of a FusedElementwise chain.
func (f UnaryFn) Chains() bool { return unaryTraits[f]&(TraitChain|TraitEpilogue) != 0 }

// Chains tells whether f may be a step of a FusedElementwise chain.
func (f BinaryFn) Chains() bool { return binaryChains[f] }
