package codegen

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Kernels of ir/ops_text.go.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.TfIdfVectorizer) error { return k.tfIdf(n, op) })
}

// ngramTrie is the pool as a trie: node i's children are entries
// [first, first+count), sorted by key for a binary search. An entry's col
// is the output column of the n-gram ending there, or -1.
type ngramTrie struct {
	first, count []int32
	keys         []int64
	child, col   []int32
}

type trieEntry struct {
	key        int64
	child, col int32
}

func buildNgramTrie(grams []ir.TfIdfGram) *ngramTrie {
	entries := [][]trieEntry{nil} // per node, in insertion order
	for _, g := range grams {
		node := 0
		for i, key := range g.Ints {
			j := slices.IndexFunc(entries[node], func(e trieEntry) bool { return e.key == key })
			if j < 0 {
				entries = append(entries, nil)
				entries[node] = append(entries[node], trieEntry{key: key, child: int32(len(entries) - 1), col: -1})
				j = len(entries[node]) - 1
			}
			if i == len(g.Ints)-1 {
				entries[node][j].col = int32(g.Col) // a later listing wins
			}
			node = int(entries[node][j].child)
		}
	}
	t := &ngramTrie{}
	for _, es := range entries {
		slices.SortFunc(es, func(a, b trieEntry) int {
			switch {
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		t.first = append(t.first, int32(len(t.keys)))
		t.count = append(t.count, int32(len(es)))
		for _, e := range es {
			t.keys = append(t.keys, e.key)
			t.child = append(t.child, e.child)
			t.col = append(t.col, e.col)
		}
	}
	return t
}

// bytes lays the trie out as a table: per node (first, count) as i32
// pairs, then per entry (key i64, child i32, col i32); entriesAt is the
// entries' byte offset.
func (t *ngramTrie) bytes() (data []byte, entriesAt int32) {
	for i := range t.first {
		data = binary.LittleEndian.AppendUint32(data, uint32(t.first[i]))
		data = binary.LittleEndian.AppendUint32(data, uint32(t.count[i]))
	}
	for len(data)%8 != 0 {
		data = append(data, 0)
	}
	entriesAt = int32(len(data))
	for i := range t.keys {
		data = binary.LittleEndian.AppendUint64(data, uint64(t.keys[i]))
		data = binary.LittleEndian.AppendUint32(data, uint32(t.child[i]))
		data = binary.LittleEndian.AppendUint32(data, uint32(t.col[i]))
	}
	return data, entriesAt
}

// tfIdf counts n-grams into the output as int32, walking the pool's trie
// from every start position and skip distance, then turns the counts into
// float32 values under the op's mode in place.
func (k *Ctx) tfIdf(n *ir.Node, op *ir.TfIdfVectorizer) error {
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	if dt != ir.Int32 && dt != ir.Int64 {
		return ir.NotSupportedf("TfIdfVectorizer of a run-time %s input (string tensors have no Wasm memory layout)", dt)
	}
	grams, err := op.Grams()
	if err != nil {
		return err
	}
	f := k.F
	rows, c := 1, x.Type.Shape.Size()
	if len(x.Type.Shape) == 2 {
		rows, c = x.Type.Shape[0], x.Type.Shape[1]
	}
	ncols := op.Cols()
	xsz := int32(elemBytes(dt))
	f.I32Const(k.Addr(y)).I32Const(0).I32Const(int32(y.Type.Bytes())).MemoryFill()
	if rows == 0 || ncols == 0 {
		return nil
	}

	if len(grams) > 0 && c > 0 {
		data, entriesAt := buildNgramTrie(grams).bytes()
		table := k.Table("tfidf_trie:"+string(data), data)
		nodes, entries := table, table+entriesAt
		rowX, rowY, r := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		d, starts, s, node, pos, gram := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		lo, hi, end, mid, e := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		key, col := f.Local(asm.I64), f.Local(asm.I32)

		// walk counts, for skip distance d (a local) and smallest counted
		// size least, the n-grams starting at every position of the row.
		walk := func(least int) {
			// starts = min(c, c - d*(least-1)): later starts cannot hold least items.
			f.I32Const(int32(c)).Get(d).I32Const(int32(least - 1)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub).Set(starts)
			f.Get(starts).I32Const(int32(c)).Get(starts).I32Const(int32(c)).Op(wasm.OpcodeI32LtS).Select().Set(starts)
			f.I32Const(0).Set(s)
			f.Block() // all starts done
			f.Loop()
			f.Get(s).Get(starts).Op(wasm.OpcodeI32GeS).BrIf(1)
			f.I32Const(0).Set(node)
			f.Get(s).Set(pos)
			f.I32Const(1).Set(gram)
			f.Block() // this start done
			f.Loop()
			f.Get(gram).I32Const(int32(op.MaxGram)).Op(wasm.OpcodeI32GtS).BrIf(1)
			f.Get(pos).I32Const(int32(c)).Op(wasm.OpcodeI32GeS).BrIf(1)
			f.Get(rowX).Get(pos).I32Const(xsz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			k.loadAs(dt, 0, asm.I64)
			f.Set(key)
			// Binary search of the node's entries for key.
			f.Get(node).I32Const(8).Op(wasm.OpcodeI32Mul).Set(mid)
			f.Get(mid).I32Load(uint32(nodes)).Set(lo)
			f.Get(mid).I32Load(uint32(nodes + 4)).Get(lo).Op(wasm.OpcodeI32Add).Tee(end).Set(hi)
			f.Block()
			f.Loop()
			f.Get(lo).Get(hi).Op(wasm.OpcodeI32GeU).BrIf(1)
			f.Get(lo).Get(hi).Op(wasm.OpcodeI32Add).I32Const(1).Op(wasm.OpcodeI32ShrU).Set(mid)
			f.Get(mid).I32Const(16).Op(wasm.OpcodeI32Mul).I64Load(uint32(entries)).Get(key).Op(wasm.OpcodeI64LtS)
			f.If()
			f.Get(mid).I32Const(1).Op(wasm.OpcodeI32Add).Set(lo)
			f.Else()
			f.Get(mid).Set(hi)
			f.End()
			f.Br(0)
			f.End()
			f.End()
			f.Get(lo).Get(end).Op(wasm.OpcodeI32Eq).BrIf(1)
			f.Get(lo).I32Const(16).Op(wasm.OpcodeI32Mul).Tee(e).I64Load(uint32(entries)).Get(key).Op(wasm.OpcodeI64Ne).BrIf(1)
			f.Get(e).I32Load(uint32(entries + 12)).Set(col)
			cond := func() { f.Get(col).I32Const(0).Op(wasm.OpcodeI32GeS) }
			if least > 1 {
				cond = func() {
					f.Get(col).I32Const(0).Op(wasm.OpcodeI32GeS)
					f.Get(gram).I32Const(int32(least)).Op(wasm.OpcodeI32GeS).Op(wasm.OpcodeI32And)
				}
			}
			cond()
			f.If()
			f.Get(rowY).Get(col).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Tee(mid)
			f.Get(mid).I32Load(0).I32Const(1).Op(wasm.OpcodeI32Add).I32Store(0)
			f.End()
			f.Get(e).I32Load(uint32(entries + 8)).Set(node)
			f.AddI32(gram, 1)
			f.Get(pos).Get(d).Op(wasm.OpcodeI32Add).Set(pos)
			f.Br(0)
			f.End()
			f.End()
			f.AddI32(s, 1)
			f.Br(0)
			f.End()
			f.End()
		}

		f.I32Const(k.Addr(x)).Set(rowX)
		f.I32Const(k.Addr(y)).Set(rowY)
		f.Repeat(r, rows, func() {
			f.I32Const(1).Set(d)
			walk(op.LeastGram(1))
			if least := op.LeastGram(2); !(op.MinGram == 1 && least > op.MaxGram) {
				f.ForStep(d, 2, op.MaxDistance(c)+1, 1, func() { walk(least) })
			}
			f.AddI32(rowX, int32(c)*xsz)
			f.AddI32(rowY, int32(ncols*4))
		})
	}

	// Counts to values, in place.
	p, i := f.Local(asm.I32), f.Local(asm.I32)
	var weights int32
	useWeights := op.Weights != nil && op.Mode != "TF"
	if useWeights {
		w := make([]byte, 0, 4*ncols)
		for col := range ncols {
			w = binary.LittleEndian.AppendUint32(w, math.Float32bits(op.Weight(col)))
		}
		weights = k.Table("tfidf_weights:"+string(w), w)
	}
	f.I32Const(k.Addr(y)).Set(p)
	rr := f.Local(asm.I32)
	f.Repeat(rr, rows, func() {
		f.Repeat(i, ncols, func() {
			f.Get(p)
			switch {
			case op.Mode == "IDF":
				if useWeights {
					f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).F32Load(uint32(weights))
				} else {
					f.F32Const(1)
				}
				f.F32Const(0)
				f.Get(p).I32Load(0).I32Const(0).Op(wasm.OpcodeI32GtS).Select()
			case op.Mode == "TFIDF" && useWeights:
				f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).F32Load(uint32(weights))
				f.Get(p).I32Load(0).Op(wasm.OpcodeF32ConvertI32S).Op(wasm.OpcodeF32Mul)
			default:
				f.Get(p).I32Load(0).Op(wasm.OpcodeF32ConvertI32S)
			}
			f.F32Store(0)
			f.AddI32(p, 4)
		})
	})
	return nil
}
