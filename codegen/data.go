package codegen

import (
	"bytes"
	"encoding/json"
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
// neighbours less than 64 bytes apart and leaving out all-zero tails
// (memory starts zeroed).
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
		if n := len(segs); n > 0 && segs[n-1].off+segs[n-1].size+64 >= off {
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

// encode writes the module: wabin encodes the sections but the data count
// and data sections, which are written here, the segments' bytes straight
// from the constants into the output: a model's weights are copied once.
func (md *module) encode(passive []*segment, active []dataSeg) []byte {
	custom := &wasm.Module{NameSection: md.m.NameSection, CustomSections: md.m.CustomSections}
	md.m.NameSection, md.m.CustomSections, md.m.DataSection = nil, nil, nil
	head := binary.EncodeModule(md.m)
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
	var dataCount []byte
	if len(passive) > 0 {
		dataCount = append([]byte{wasm.SectionIDDataCount}, leb128.EncodeUint32(uint32(len(count)))...)
		dataCount = append(dataCount, count...)
	}
	sizeLEB := leb128.EncodeUint32(uint32(body))
	out := make([]byte, 0, len(head)+len(dataCount)+1+len(sizeLEB)+body+len(tail))
	// The data count section precedes the code section.
	codeAt := sectionStart(head, wasm.SectionIDCode)
	out = append(out, head[:codeAt]...)
	out = append(out, dataCount...)
	out = append(out, head[codeAt:]...)
	if body > len(count) {
		out = append(out, wasm.SectionIDData)
		out = append(out, sizeLEB...)
		out = append(out, count...)
		for _, s := range passive {
			out = append(out, 1)
			out = append(out, leb128.EncodeUint32(uint32(s.size))...)
			for _, p := range s.parts {
				out = append(out, make([]byte, p.zeros)...)
				out = append(out, p.data...)
			}
		}
		for i, s := range active {
			out = append(out, activeSegs[i]...)
			out = append(out, s.data...)
		}
	}
	return append(out, tail...)
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
