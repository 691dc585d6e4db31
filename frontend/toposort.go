package frontend

import (
	"container/heap"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
)

// topoSorted returns a graph's nodes in an order where every node comes
// after the nodes producing what it reads (its inputs and the values its
// subgraphs capture). ONNX requires that order, but ONNX Runtime sorts
// graphs itself, and real models rely on it: onnxconverter-common's
// float16 conversion with keep_io_types appends the Cast of each graph
// input after the nodes that read it. Nodes keep their relative order
// wherever it is valid, so an ordered graph is returned unchanged; nodes on
// a cycle keep their place after the others, and importing them reports
// the undefined input.
func topoSorted(nodes []*onnxpb.NodeProto) []*onnxpb.NodeProto {
	producer := map[string]int{}
	for i, np := range nodes {
		for _, o := range np.Output {
			if o != "" {
				producer[o] = i
			}
		}
	}
	deps := make([][]int, len(nodes))
	sorted := true
	for i, np := range nodes {
		add := func(name string) {
			if p, ok := producer[name]; ok && p != i {
				deps[i] = append(deps[i], p)
				if p > i {
					sorted = false
				}
			}
		}
		for _, in := range np.Input {
			add(in)
		}
		for _, a := range np.Attribute {
			sub := append([]*onnxpb.GraphProto{}, a.Graphs...)
			if a.G != nil {
				sub = append(sub, a.G)
			}
			for _, g := range sub {
				EachNode(g, func(n *onnxpb.NodeProto) {
					for _, in := range n.Input {
						add(in)
					}
				})
			}
		}
	}
	if sorted {
		return nodes
	}
	// Kahn's algorithm, always taking the ready node that came first.
	waiting := make([]int, len(nodes))
	readers := make([][]int, len(nodes))
	for i, ds := range deps {
		waiting[i] = len(ds)
		for _, d := range ds {
			readers[d] = append(readers[d], i)
		}
	}
	ready := &intHeap{}
	for i, w := range waiting {
		if w == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]*onnxpb.NodeProto, 0, len(nodes))
	done := make([]bool, len(nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, nodes[i])
		done[i] = true
		for _, r := range readers[i] {
			if waiting[r]--; waiting[r] == 0 {
				heap.Push(ready, r)
			}
		}
	}
	for i, np := range nodes {
		if !done[i] {
			out = append(out, np)
		}
	}
	return out
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
