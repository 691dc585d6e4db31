package codegen

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Constants are passive data segments, copied into memory by mlc_run's
// first call (memory.init, then data.drop), not when the module is
// instantiated: an instance that shares its memory with others (threads)
// must not overwrite it, and a host may place the bytes itself (the JS
// shim does, from bytes it then lets go, so that the engine does not keep
// a second copy of the weights beside memory). The "mlc.data" custom
// section tells such hosts where each passive segment goes and which flag
// to set (DataLayout); the ABI is unchanged. Read-only kernel tables and
// the WASI messages stay active segments.

// DataSection is the name of the custom section holding DataLayout.
const DataSection = "mlc.data"

// DataLayout describes a module's passive data segments for hosts that
// place them in memory themselves: segment i goes at Segments[i].Offset;
// then the i32 at Flag is set to 1, and mlc_run skips memory.init.
type DataLayout struct {
	Flag     int          `json:"flag"`
	Segments []SegmentPos `json:"segments"`
}

// SegmentPos is where one passive segment goes.
type SegmentPos struct {
	Offset int `json:"offset"`
	Bytes  int `json:"bytes"`
}

// segment is one data segment, written from its parts without copying
// them first: the constants' own bytes and the zero gaps between them.
type segment struct {
	off   int
	parts []segPart
	size  int
}

type segPart struct {
	data  []byte
	zeros int
}

func (s *segment) add(data []byte, zeros int) {
	s.parts = append(s.parts, segPart{data, zeros})
	s.size += len(data) + zeros
}

// constSegments lays the plan's constants out as segments, merging
// neighbours less than 64 bytes apart in the same region (constants, or
// staged in the arena) and leaving out all-zero tails (memory starts
// zeroed).
func (md *module) constSegments() []*segment {
	var segs []*segment
	consts := append(md.plan.Consts[:0:0], md.plan.Consts...)
	sort.Slice(consts, func(i, j int) bool { return md.plan.Addr(consts[i]) < md.plan.Addr(consts[j]) })
	for _, v := range consts {
		data := v.Const.Data
		end := len(data)
		for end > 0 && data[end-1] == 0 {
			end--
		}
		if end == 0 {
			continue
		}
		off := md.plan.Addr(v)
		// Never across the inputs, outputs and flags between the constants
		// and the constants staged in the arena: the first run's copy
		// would zero them after the host wrote its inputs.
		staged := off >= md.plan.ArenaStart
		if n := len(segs); n > 0 && segs[n-1].off+segs[n-1].size+64 >= off && (segs[n-1].off >= md.plan.ArenaStart) == staged {
			last := segs[n-1]
			last.add(data[:end], off-(last.off+last.size))
			continue
		}
		s := &segment{off: off}
		s.add(data[:end], 0)
		segs = append(segs, s)
	}
	return segs
}

// initData copies the passive segments into memory once: the i32 at flag
// becomes 1 (a host that placed them itself sets it first).
func initData(f *asm.Func, segs []*segment, flag int32) {
	if len(segs) == 0 {
		return
	}
	f.I32Const(flag).I32Load(0).Op(wasm.OpcodeI32Eqz).If()
	for i, s := range segs {
		f.I32Const(int32(s.off)).I32Const(0).I32Const(int32(s.size)).MemoryInit(uint32(i)).DataDrop(uint32(i))
	}
	f.I32Const(flag).I32Const(1).I32Store(0)
	f.End()
}

// encode writes the module to w: wabin encodes the sections but the data
// count and data sections, which are written here, the segments' bytes
// straight from the constants: a model's weights are copied once, into
// the output (or not at all, when w is a file).
func (md *module) encode(w io.Writer, passive []*segment, active []dataSeg) error {
	custom := &wasm.Module{NameSection: md.m.NameSection, CustomSections: md.m.CustomSections}
	md.m.NameSection, md.m.CustomSections, md.m.DataSection = nil, nil, nil
	head := binary.EncodeModule(md.m)
	if md.threaded() {
		if err := markShared(head); err != nil {
			return err
		}
	}
	tail := binary.EncodeModule(custom)[8:] // after magic and version

	count := leb128.EncodeUint32(uint32(len(passive) + len(active)))
	body := len(count)
	for _, s := range passive {
		body += 1 + len(leb128.EncodeUint32(uint32(s.size))) + s.size
	}
	activeSegs := make([][]byte, len(active))
	for i, s := range active {
		seg := []byte{0, wasm.OpcodeI32Const}
		seg = append(seg, i32leb(int32(s.off))...)
		seg = append(seg, wasm.OpcodeEnd)
		seg = append(seg, leb128.EncodeUint32(uint32(len(s.data)))...)
		activeSegs[i] = seg
		body += len(seg) + len(s.data)
	}
	if b, ok := w.(*bytes.Buffer); ok { // one allocation for the whole module
		b.Grow(len(head) + 16 + 1 + 5 + body + len(tail))
	}
	ew := &errWriter{w: w}
	// The data count section precedes the code section.
	codeAt := sectionStart(head, wasm.SectionIDCode)
	ew.write(head[:codeAt])
	if len(passive) > 0 {
		ew.write([]byte{wasm.SectionIDDataCount})
		ew.write(leb128.EncodeUint32(uint32(len(count))))
		ew.write(count)
	}
	ew.write(head[codeAt:])
	if body > len(count) {
		ew.write([]byte{wasm.SectionIDData})
		ew.write(leb128.EncodeUint32(uint32(body)))
		ew.write(count)
		zeros := make([]byte, 64)
		for _, s := range passive {
			ew.write([]byte{1})
			ew.write(leb128.EncodeUint32(uint32(s.size)))
			for _, p := range s.parts {
				ew.write(zeros[:p.zeros]) // gaps are under 64 bytes
				ew.write(p.data)
			}
		}
		for i, s := range active {
			ew.write(activeSegs[i])
			ew.write(s.data)
		}
	}
	ew.write(tail)
	return ew.err
}

// errWriter keeps the first error of a sequence of writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(b []byte) {
	if e.err == nil && len(b) > 0 {
		_, e.err = e.w.Write(b)
	}
}

// sectionStart is the offset of the first section with id in an encoded
// module, or its end.
func sectionStart(b []byte, id wasm.SectionID) int {
	p := 8
	for p < len(b) {
		if b[p] == id {
			return p
		}
		size, n, err := leb128.DecodeUint32(bytes.NewReader(b[p+1:]))
		if err != nil {
			break
		}
		p += 1 + int(n) + int(size)
	}
	return len(b)
}

// dataLayout is the "mlc.data" section's content.
func dataLayout(segs []*segment, flag int) []byte {
	l := DataLayout{Flag: flag, Segments: []SegmentPos{}}
	for _, s := range segs {
		l.Segments = append(l.Segments, SegmentPos{s.off, s.size})
	}
	b, _ := json.Marshal(l)
	return b
}
