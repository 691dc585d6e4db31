package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Text operators (see ir/ops_text.go).

func init() {
	register("TfIdfVectorizer", []int{9}, "string input only as a compile-time constant (string tensors have no Wasm memory layout)", func(c *nodeCtx) error {
		for _, name := range []string{"max_gram_length", "min_gram_length", "max_skip_count", "mode", "ngram_counts", "ngram_indexes"} {
			if !c.Has(name) {
				return fmt.Errorf("TfIdfVectorizer needs the %s attribute", name)
			}
		}
		mode, err := c.OneOf("mode", "", "TF", "IDF", "TFIDF")
		if err != nil {
			return err
		}
		op := &ir.TfIdfVectorizer{
			Mode:         mode,
			MinGram:      c.Int("min_gram_length", 0),
			MaxGram:      c.Int("max_gram_length", 0),
			MaxSkip:      c.Int("max_skip_count", 0),
			NgramCounts:  c.Ints("ngram_counts", nil),
			NgramIndexes: c.Ints("ngram_indexes", nil),
			Weights:      c.Floats("weights", nil),
		}
		ints, strs := c.attr("pool_int64s"), c.attr("pool_strings")
		switch {
		case ints != nil && strs != nil:
			return fmt.Errorf("TfIdfVectorizer has both pool_int64s and pool_strings")
		case ints != nil:
			op.PoolInts = append([]int64{}, ints.Ints...)
		case strs != nil:
			op.PoolStrings = c.Strings("pool_strings", nil)
			if op.PoolStrings == nil {
				op.PoolStrings = []string{}
			}
		default:
			return fmt.Errorf("TfIdfVectorizer needs pool_int64s or pool_strings")
		}
		return c.Emit(op, c.In(0))
	})
}
