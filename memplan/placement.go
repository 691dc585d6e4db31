package memplan

import (
	"fmt"
	"strings"

	"github.com/mlc-compiler/mlc/ir"
)

// ValueAddr is v's address in linear memory (ir.Placement, for
// ir.Graph.Format).
func (p *Plan) ValueAddr(v *ir.Value) (int, bool) {
	a, ok := p.Offsets[v]
	return a, ok
}

// NodeNote tells where n's workspace is and whether n runs once
// (ir.Placement).
func (p *Plan) NodeNote(n *ir.Node) string {
	var notes []string
	if a, ok := p.Workspace[n]; ok {
		notes = append(notes, fmt.Sprintf("workspace @%d", a))
	}
	if p.Once[n] {
		notes = append(notes, "once")
	}
	return strings.Join(notes, ", ")
}

// Summary describes the memory layout in one line.
func (p *Plan) Summary() string {
	return fmt.Sprintf("memory %d bytes: scratch [0,%d) constants %d bytes, arena @%d %d bytes", p.MemoryBytes, ScratchBytes, p.ConstBytes, p.ArenaStart, p.ArenaBytes)
}
