package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Text operators: TfIdfVectorizer.

// TfIdfVectorizer counts, per row of a 1-D or 2-D input, the n-grams of a
// pool learned in training (pool_int64s or pool_strings), with items up to
// MaxSkip apart, and writes the counts (TF), indicators (IDF) or weighted
// counts (TFIDF) to the n-grams' output columns. The semantics follow the
// ONNX reference implementation (onnx/reference/ops/op_tfidf_vectorizer.py),
// as onnxruntime does: unigrams count once, not once per skip distance; a
// pool n-gram listed twice counts in the column of its last listing; and
// Weights apply per output column.
type TfIdfVectorizer struct {
	Mode                      string // "TF", "IDF" or "TFIDF"
	MinGram, MaxGram, MaxSkip int
	PoolInts                  []int64
	PoolStrings               []string // set instead of PoolInts for string pools
	NgramCounts               []int    // start of each n-gram size's items in the pool
	NgramIndexes              []int    // output column of each pool n-gram
	Weights                   []float32
}

func (*TfIdfVectorizer) OpType() string { return "TfIdfVectorizer" }

// TfIdfGram is one pool n-gram the op counts: its items (PoolInts or
// PoolStrings entries) and its output column.
type TfIdfGram struct {
	Ints    []int64
	Strings []string
	Col     int
}

func (op *TfIdfVectorizer) strings() bool { return op.PoolStrings != nil }

// Cols is the output's row length: the largest n-gram index plus one.
func (op *TfIdfVectorizer) Cols() int {
	m := -1
	for _, c := range op.NgramIndexes {
		m = max(m, c)
	}
	return m + 1
}

// Grams lists the pool n-grams of sizes MinGram..MaxGram in pool order,
// each with its output column. The pool holds ngram_counts[i+1] -
// ngram_counts[i] items of (i+1)-grams; every n-gram of the pool, counted
// or not, takes the next entry of NgramIndexes.
func (op *TfIdfVectorizer) Grams() ([]TfIdfGram, error) {
	total := len(op.PoolInts)
	if op.strings() {
		total = len(op.PoolStrings)
	}
	var grams []TfIdfGram
	id := 0
	for i, start := range op.NgramCounts {
		end := total
		if i+1 < len(op.NgramCounts) {
			end = op.NgramCounts[i+1]
		}
		if start < 0 || end > total || start > end {
			return nil, fmt.Errorf("ngram_counts %v do not fit a pool of %d items", op.NgramCounts, total)
		}
		size := i + 1
		count := (end - start) / size
		for j := range count {
			if id >= len(op.NgramIndexes) {
				return nil, fmt.Errorf("the pool has more n-grams than ngram_indexes (%d)", len(op.NgramIndexes))
			}
			if size >= op.MinGram && size <= op.MaxGram {
				g := TfIdfGram{Col: op.NgramIndexes[id]}
				at := start + j*size
				if op.strings() {
					g.Strings = op.PoolStrings[at : at+size]
				} else {
					g.Ints = op.PoolInts[at : at+size]
				}
				grams = append(grams, g)
			}
			id++
		}
	}
	return grams, nil
}

func (op *TfIdfVectorizer) check() error {
	if op.MinGram < 1 || op.MaxSkip < 0 {
		return fmt.Errorf("min_gram_length must be positive and max_skip_count non-negative, got %d and %d", op.MinGram, op.MaxSkip)
	}
	if len(op.NgramIndexes) == 0 {
		return fmt.Errorf("ngram_indexes is empty")
	}
	for _, c := range op.NgramIndexes {
		if c < 0 {
			return fmt.Errorf("ngram_indexes has the negative index %d", c)
		}
	}
	if op.Mode != "TF" && op.Weights != nil && len(op.Weights) < op.Cols() {
		return fmt.Errorf("weights has %d entries for %d output columns (they apply per column)", len(op.Weights), op.Cols())
	}
	_, err := op.Grams()
	return err
}

func (op *TfIdfVectorizer) Infer(in []*Value) ([]Type, error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	x := in[0].Type
	switch {
	case op.strings() && x.DType != String:
		return nil, fmt.Errorf("pool_strings needs a string input, got %s", x.DType)
	case !op.strings() && x.DType != Int32 && x.DType != Int64:
		return nil, fmt.Errorf("pool_int64s needs an int32 or int64 input, got %s", x.DType)
	}
	switch len(x.Shape) {
	case 1:
		return Types(Type{Float32, Shape{op.Cols()}}), nil
	case 2:
		return Types(Type{Float32, Shape{x.Shape[0], op.Cols()}}), nil
	}
	return nil, fmt.Errorf("the input must have rank 1 or 2, got %s", x)
}

// gramKey encodes a run of items unambiguously (length-prefixed).
func gramKey(items []string) string {
	var b strings.Builder
	for _, s := range items {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

func (op *TfIdfVectorizer) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	grams, err := op.Grams()
	if err != nil {
		return nil, err
	}
	item := func(i int) string {
		if x.DType == String {
			return x.Strings[i]
		}
		return strconv.FormatInt(x.Int(i), 10)
	}
	// cols maps each counted n-gram to its column (the last listing wins);
	// prefixes holds every proper prefix, to stop extending a window early.
	cols, prefixes := map[string]int{}, map[string]bool{}
	for _, g := range grams {
		items := g.Strings
		if !op.strings() {
			for _, v := range g.Ints {
				items = append(items, strconv.FormatInt(v, 10))
			}
		}
		cols[gramKey(items)] = g.Col
		for n := 1; n < len(items); n++ {
			prefixes[gramKey(items[:n])] = true
		}
	}
	rows, c := 1, x.Len()
	if len(x.Shape) == 2 {
		rows, c = x.Shape[0], x.Shape[1]
	}
	ncols := op.Cols()
	counts := make([]int64, rows*ncols)
	for r := range rows {
		for d := 1; d <= op.MaxDistance(c); d++ {
			least := op.LeastGram(d)
			if least > op.MaxGram && d > 1 {
				break
			}
			for s := 0; s < c && s+d*(least-1) < c; s++ {
				var items []string
				for n, pos := 1, s; n <= op.MaxGram && pos < c; n, pos = n+1, pos+d {
					items = append(items, item(r*c+pos))
					key := gramKey(items)
					col, ok := cols[key]
					if ok && n >= least {
						counts[r*ncols+col]++
					}
					if !prefixes[key] {
						break
					}
				}
			}
		}
	}
	out := NewTensor(Float32, Shape{ncols})
	if len(x.Shape) == 2 {
		out = NewTensor(Float32, Shape{rows, ncols})
	}
	y := out.F32()
	for i, n := range counts {
		y[i] = op.Value(n, i%ncols)
	}
	return []*Tensor{out}, nil
}

// MaxDistance is the largest skip distance (max_skip_count+1) that can form an
// n-gram counted in rows of c items: beyond c, windows hold one item, and
// only distance 1 counts unigrams.
func (op *TfIdfVectorizer) MaxDistance(c int) int { return min(op.MaxSkip+1, max(c, 1)) }

// LeastGram is the smallest n-gram counted at skip distance d: MinGram,
// except that unigrams count at distance 1 only (with MinGram 1, longer
// distances start at bigrams).
func (op *TfIdfVectorizer) LeastGram(d int) int {
	if d > 1 && op.MinGram == 1 {
		return 2
	}
	return op.MinGram
}

// Weight is the weight of output column col (1 without weights).
func (op *TfIdfVectorizer) Weight(col int) float32 {
	if op.Weights == nil {
		return 1
	}
	return op.Weights[col]
}

// Value is the output for count n in column col under Mode.
func (op *TfIdfVectorizer) Value(n int64, col int) float32 {
	switch op.Mode {
	case "IDF":
		if n > 0 {
			return op.Weight(col)
		}
		return 0
	case "TFIDF":
		return op.Weight(col) * float32(n)
	}
	return float32(n)
}
