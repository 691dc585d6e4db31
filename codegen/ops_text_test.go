package codegen_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestTfIdfVectorizer compares the Wasm kernel (a trie walked with binary
// searches) with the reference interpreter (a map of n-grams) on random
// pools and inputs over a small alphabet, so that n-grams do match: every
// mode, with and without weights, int32 and int64 inputs, 1-D and 2-D
// inputs, gram lengths 1 to 5, skips, duplicate pool entries.
func TestTfIdfVectorizer(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for i := range 60 {
		minG := 1 + r.IntN(3)
		maxG := minG + r.IntN(3)
		skip := r.IntN(4)
		if i == 59 {
			skip = 1 << 40 // every distance up to the row's length
		}
		mode := []string{"TF", "IDF", "TFIDF"}[i%3]
		// A pool of up to 6 n-grams of each size 1..3.
		var pool, counts []int64
		nGrams := 0
		for size := 1; size <= 3; size++ {
			counts = append(counts, int64(len(pool)))
			for range r.IntN(7) {
				for range size {
					pool = append(pool, int64(r.IntN(6)-2))
				}
				nGrams++
			}
		}
		if nGrams == 0 {
			pool, counts, nGrams = []int64{1}, []int64{0}, 1
		}
		indexes := make([]int64, nGrams)
		cols := nGrams + r.IntN(3)
		for j := range indexes {
			indexes[j] = int64(r.IntN(cols))
		}
		indexes[0] = int64(cols - 1)
		attrs := []*onnxpb.AttributeProto{
			optest.Int("min_gram_length", int64(minG)), optest.Int("max_gram_length", int64(maxG)),
			optest.Int("max_skip_count", int64(skip)), optest.String("mode", mode),
			optest.Ints("pool_int64s", pool...), optest.Ints("ngram_counts", counts...), optest.Ints("ngram_indexes", indexes...),
		}
		if i%4 != 0 {
			w := make([]float32, cols)
			for j := range w {
				w[j] = float32(r.IntN(100)) / 8
			}
			attrs = append(attrs, optest.Floats("weights", w...))
		}
		shape := [][]int{{13}, {3, 9}, {5}, {2, 1}, {1}, {4, 2}}[i%6]
		dt := []ir.DType{ir.Int32, ir.Int64}[i/6%2]
		x := ir.NewTensor(dt, ir.Shape(shape))
		for j := range x.Len() {
			x.SetInt(j, int64(r.IntN(6)-2))
		}
		t.Run(fmt.Sprintf("%d_%s_%s%v_gram%d-%d_skip%d", i, mode, dt, shape, minG, maxG, skip), func(t *testing.T) {
			optest.Check(t, optest.Node{Op: "TfIdfVectorizer", Opset: 9, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: attrs}, tensors{"x": x}, nil)
		})
	}
}
