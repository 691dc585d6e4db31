package codegen

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
)

// The WASI command entry: stdin -> inputs, mlc_run, outputs -> stdout.
// It uses the scratch bytes at the bottom of memory:
const (
	scratchIovec = 0  // iovec {buf, len}
	scratchCount = 8  // nread / nwritten
	scratchProbe = 16 // 16 bytes to detect extra stdin
	scratchMsgs  = 64 // error messages
)

// startFunc builds _start for the given metadata; run is mlc_run's index.
func (md *module) startFunc(meta *abi.Metadata, run uint32) *asm.Func {
	total := 0
	for _, t := range meta.Inputs {
		total += t.Bytes
	}
	msgOff := scratchMsgs
	// message stores s and returns its offset and length.
	message := func(s string) [2]int32 {
		b := []byte(s)
		if msgOff+len(b) > 1024 {
			panic("codegen: WASI messages overflow the scratch area")
		}
		md.staticData = append(md.staticData, dataSeg{msgOff, b})
		off := msgOff
		msgOff += len(b)
		return [2]int32{int32(off), int32(len(b))}
	}
	short := message(fmt.Sprintf("mlc: stdin is shorter than the model's inputs: expected exactly %d bytes\n", total))
	long := message(fmt.Sprintf("mlc: stdin is longer than the model's inputs: expected exactly %d bytes\n", total))
	readErr := message("mlc: reading stdin failed\n")
	writeErr := message("mlc: writing stdout failed\n")
	// One message per mlc_run result code, in code order.
	codes := make([]int, 0, len(abi.RunErrorMessages))
	for c := range abi.RunErrorMessages {
		n, _ := strconv.Atoi(c)
		codes = append(codes, n)
	}
	sort.Ints(codes)
	runErrs := make([][2]int32, len(codes))
	for i, c := range codes {
		runErrs[i] = message(fmt.Sprintf("mlc: mlc_run failed with code %d: %s\n", c, abi.RunErrorMessages[strconv.Itoa(c)]))
	}
	runErr := message("mlc: mlc_run failed with an unknown code\n")

	i32 := []wasm.ValueType{asm.I32}
	fail := md.helper("mlc_fail", []wasm.ValueType{asm.I32, asm.I32}, nil, func(f *asm.Func) {
		// fd_write(2, iovec{msg, len}); proc_exit(1)
		f.I32Const(scratchIovec).Get(f.Param(0)).I32Store(0)
		f.I32Const(scratchIovec).Get(f.Param(1)).I32Store(4)
		f.I32Const(2).I32Const(scratchIovec).I32Const(1).I32Const(scratchCount).Call(fnFdWrite).Drop()
		f.I32Const(1).Call(fnProcExit)
	})
	// io(fd, ptr, len) -> 0 ok, 1 end of file, 2 error: loops until len bytes moved.
	ioLoop := func(name string, fn uint32) uint32 {
		return md.helper(name, []wasm.ValueType{asm.I32, asm.I32, asm.I32}, i32, func(f *asm.Func) {
			fd, p, rem := f.Param(0), f.Param(1), f.Param(2)
			n := f.Local(asm.I32)
			f.Block().Loop()
			f.Get(rem).Op(wasm.OpcodeI32Eqz).BrIf(1)
			f.I32Const(scratchIovec).Get(p).I32Store(0)
			f.I32Const(scratchIovec).Get(rem).I32Store(4)
			f.Get(fd).I32Const(scratchIovec).I32Const(1).I32Const(scratchCount).Call(fn)
			f.If().I32Const(2).Return().End()
			f.I32Const(scratchCount).I32Load(0).Tee(n).Op(wasm.OpcodeI32Eqz)
			f.If().I32Const(1).Return().End()
			f.Get(p).Get(n).Op(wasm.OpcodeI32Add).Set(p)
			f.Get(rem).Get(n).Op(wasm.OpcodeI32Sub).Set(rem)
			f.Br(0)
			f.End().End()
			f.I32Const(0)
		})
	}
	readExact := ioLoop("mlc_read_exact", fnFdRead)
	writeAll := ioLoop("mlc_write_all", fnFdWrite)

	f := asm.NewFunc(nil, nil)
	st := f.Local(asm.I32)
	failWith := func(m [2]int32) { f.I32Const(m[0]).I32Const(m[1]).Call(fail) }
	for _, t := range meta.Inputs {
		if t.Bytes == 0 {
			continue
		}
		f.I32Const(0).I32Const(int32(t.Offset)).I32Const(int32(t.Bytes)).Call(readExact).Tee(st)
		f.If()
		f.Get(st).I32Const(1).Op(wasm.OpcodeI32Eq).If()
		failWith(short)
		f.End()
		failWith(readErr)
		f.End()
	}
	// Anything left on stdin is an error too: one more read must see EOF.
	f.I32Const(scratchIovec).I32Const(scratchProbe).I32Store(0)
	f.I32Const(scratchIovec).I32Const(16).I32Store(4)
	f.I32Const(0).I32Const(scratchIovec).I32Const(1).I32Const(scratchCount).Call(fnFdRead).If()
	failWith(readErr)
	f.End()
	f.I32Const(scratchCount).I32Load(0).If()
	failWith(long)
	f.End()
	f.Call(run).Tee(st).If()
	for i, c := range codes {
		f.Get(st).I32Const(int32(c)).Op(wasm.OpcodeI32Eq).If()
		failWith(runErrs[i])
		f.End()
	}
	failWith(runErr)
	f.End()
	for _, t := range meta.Outputs {
		if t.Bytes == 0 {
			continue
		}
		f.I32Const(1).I32Const(int32(t.Offset)).I32Const(int32(t.Bytes)).Call(writeAll).If()
		failWith(writeErr)
		f.End()
	}
	return f
}
