package ir

import (
	"slices"
	"testing"
)

// TestTfIdfVectorizer checks the reference semantics on hand-counted
// examples for what the ONNX cases (TF mode, int32 input, 1- and 2-grams)
// leave out: IDF and TFIDF, weights, skips, duplicate pool entries,
// trigrams, string pools.
func TestTfIdfVectorizer(t *testing.T) {
	// unigrams 2, 3, 5, 4 -> columns 0-3; bigrams (5,6), (7,8), (6,7) -> 4-6
	pool := []int64{2, 3, 5, 4, 5, 6, 7, 8, 6, 7}
	w := []float32{.1, .2, .3, .4, .5, .6, .7}
	base := func(mode string, skip int, weights []float32) *TfIdfVectorizer {
		return &TfIdfVectorizer{Mode: mode, MinGram: 1, MaxGram: 2, MaxSkip: skip, PoolInts: pool,
			NgramCounts: []int{0, 4}, NgramIndexes: []int{0, 1, 2, 3, 4, 5, 6}, Weights: weights}
	}
	x := TensorI64(nil, 2, 3, 3, 5, 6, 5, 6)
	cases := []struct {
		name string
		op   *TfIdfVectorizer
		x    *Tensor
		want []float32
	}{
		{"TF", base("TF", 0, w), x, []float32{1, 2, 2, 0, 2, 0, 0}},
		{"IDF", base("IDF", 0, w), x, []float32{.1, .2, .3, 0, .5, 0, 0}},
		{"IDF without weights", base("IDF", 0, nil), x, []float32{1, 1, 1, 0, 1, 0, 0}},
		{"TFIDF", base("TFIDF", 0, w), x, []float32{.1, .2 * 2, .3 * 2, 0, .5 * 2, 0, 0}},
		{"TFIDF without weights", base("TFIDF", 0, nil), x, []float32{1, 2, 2, 0, 2, 0, 0}},
		// (5,6) at distances 1 and 2; unigrams still count once.
		{"skip", base("TF", 1, nil), TensorI64(nil, 5, 9, 6, 5, 6), []float32{0, 0, 2, 0, 2, 0, 0}},
		{"skip beyond the row", base("TF", 9, nil), TensorI64(nil, 5, 9, 6, 5, 6), []float32{0, 0, 2, 0, 3, 0, 0}},
		{"bigrams only", &TfIdfVectorizer{Mode: "TF", MinGram: 2, MaxGram: 2, PoolInts: pool, NgramCounts: []int{0, 4},
			NgramIndexes: []int{0, 1, 2, 3, 4, 5, 6}}, x, []float32{0, 0, 0, 0, 2, 0, 0}},
		// The second listing of 5 takes the count.
		{"duplicate", &TfIdfVectorizer{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{5, 5}, NgramCounts: []int{0},
			NgramIndexes: []int{0, 1}}, x, []float32{0, 2}},
		// (3,5,6) at distance 1 and (2,3,6) at distance 2.
		{"trigram", &TfIdfVectorizer{Mode: "TF", MinGram: 3, MaxGram: 3, MaxSkip: 1, PoolInts: []int64{3, 5, 6, 2, 3, 6},
			NgramCounts: []int{0, 0, 0}, NgramIndexes: []int{1, 0}}, x, []float32{1, 1}},
		{"batch", base("TF", 0, nil), TensorI64(Shape{2, 3}, 2, 5, 6, 7, 8, 3), []float32{1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0}},
		{"strings", &TfIdfVectorizer{Mode: "TF", MinGram: 1, MaxGram: 2, PoolStrings: []string{"a", "b", "a", "b"},
			NgramCounts: []int{0, 2}, NgramIndexes: []int{0, 1, 2}}, stringTensor("a", "b", "a", "b", "ab"), []float32{2, 2, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.op.Infer([]*Value{NewConst("x", c.x)}); err != nil {
				t.Fatal(err)
			}
			out, err := c.op.Eval([]*Tensor{c.x})
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].F32(); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func stringTensor(s ...string) *Tensor {
	t := NewTensor(String, Shape{len(s)})
	copy(t.Strings, s)
	return t
}

func TestTfIdfVectorizerRejects(t *testing.T) {
	for i, op := range []*TfIdfVectorizer{
		{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1}, NgramCounts: []int{0}},                                  // no indexes
		{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1}, NgramCounts: []int{0}, NgramIndexes: []int{-1}},         // negative
		{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1, 2}, NgramCounts: []int{0}, NgramIndexes: []int{0}},       // too few indexes
		{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1, 2}, NgramCounts: []int{0, 3}, NgramIndexes: []int{0, 1}}, // counts past the pool
		{Mode: "IDF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1}, NgramCounts: []int{0}, NgramIndexes: []int{2}, Weights: []float32{1}},
		{Mode: "TF", MinGram: 0, MaxGram: 1, PoolInts: []int64{1}, NgramCounts: []int{0}, NgramIndexes: []int{0}},
		{Mode: "TF", MinGram: 1, MaxGram: 1, MaxSkip: -1, PoolInts: []int64{1}, NgramCounts: []int{0}, NgramIndexes: []int{0}},
	} {
		if _, err := op.Infer([]*Value{NewConst("x", TensorI64(nil, 1))}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	op := &TfIdfVectorizer{Mode: "TF", MinGram: 1, MaxGram: 1, PoolInts: []int64{1}, NgramCounts: []int{0}, NgramIndexes: []int{0}}
	for _, x := range []*Tensor{TensorI64(Shape{1, 1, 1}, 1), stringTensor("1"), ScalarF32(1)} {
		if _, err := op.Infer([]*Value{NewConst("x", x)}); err == nil {
			t.Errorf("input %s: no error", x.Type)
		}
	}
}
