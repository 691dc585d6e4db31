// Package abi defines the contract between an mlc module and its hosts
// (version 1). Other tools read modules exactly as written here; a change
// needs a new Version.
//
// Exports: "memory"; "_start" (WASI command: raw little-endian inputs on
// stdin, concatenated in metadata order, outputs likewise on stdout; a short
// or long stdin prints a message on stderr and exits 1); "mlc_run" () -> i32,
// 0 on success, after the host wrote the inputs at their offsets; it may be
// called any number of times on one instance.
//
// Imports: only wasi_snapshot_preview1 fd_read, fd_write and proc_exit.
//
// A custom section named "mlc" holds the Metadata below as UTF-8 JSON.
package abi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the ABI version of single-threaded modules (what mlc
// compile emits unless --threads N > 1).
const Version = 1

// VersionThreads is the ABI version of threaded modules: version 1 plus a
// shared memory imported as MemoryModule.MemoryName, the exports
// mlc_worker and mlc_stop, and Metadata.Threads (docs/abi.md).
const VersionThreads = 2

// VersionTimedThreads is what mlc compile --threads N emits: version 2
// plus one more import, wasi_snapshot_preview1 clock_time_get (the
// monotonic clock), which mlc_run and mlc_worker read to time the nodes
// they split and keep splitting only those that gain (docs/abi.md,
// docs/design.md "Which splits pay: measured at run time").
const VersionTimedThreads = 3

// Threaded reports whether a module of this ABI version imports a shared
// memory and runs helper threads (versions 2 and 3).
func Threaded(version int) bool { return version == VersionThreads || version == VersionTimedThreads }

// ClockImport is the WASI function a version 3 module imports.
const ClockImport = "clock_time_get"

// The memory import of a threaded module.
const (
	MemoryModule = "env"
	MemoryName   = "memory"
)

// Exports of a threaded module besides version 1's.
const (
	ExportWorker = "mlc_worker"
	ExportStop   = "mlc_stop"
)

// mlc_worker's results.
const (
	WorkerStopped = 0 // mlc_stop was called: the worker is done
	WorkerBadID   = 1 // the id is not in 1 .. threads-1
	WorkerIDInUse = 2 // another worker runs with this id
	WorkerRefused = 3 // mlc_stop was called before this worker started
)

// SectionName is the custom section holding the metadata.
const SectionName = "mlc"

// WASI imports a module may use.
const (
	WASIModule = "wasi_snapshot_preview1"
	ExportRun  = "mlc_run"
)

// Tensor describes one input or output buffer.
type Tensor struct {
	Name   string `json:"name"`
	DType  string `json:"dtype"` // numpy name: float32, int64, uint8, bool, ...
	Shape  []int  `json:"shape"`
	Offset int    `json:"offset"` // byte address in memory
	Bytes  int    `json:"bytes"`
}

// Metadata is the JSON in the "mlc" custom section.
type Metadata struct {
	ABI         int      `json:"abi"`
	Inputs      []Tensor `json:"inputs"`
	Outputs     []Tensor `json:"outputs"`
	Producer    string   `json:"producer"`
	ModelSHA256 string   `json:"model_sha256"`
	MemoryBytes int      `json:"memory_bytes"` // the (fixed) linear memory size
	SIMD        bool     `json:"simd"`
	Options     []string `json:"options,omitempty"` // compile flags that change the code
	// RunErrors maps mlc_run's non-zero results to messages.
	RunErrors map[string]string `json:"run_errors,omitempty"`
	// FixedInputs lists inputs the module was specialized on (--input-value):
	// they must be given exactly the value compiled in.
	FixedInputs []string `json:"fixed_inputs,omitempty"`
	// Threads (ABI v2 and v3 only) is the number of threads the module can use:
	// the main one and up to Threads-1 workers (mlc_worker ids 1 ..
	// Threads-1).
	Threads int `json:"threads,omitempty"`
}

// Pages is the size of the memory a host creates for a threaded module
// (initial = maximum, shared): memory_bytes in 64 KiB pages, at least 1.
func (m *Metadata) Pages() int { return max(1, (m.MemoryBytes+65535)/65536) }

// Run error codes returned by mlc_run.
const (
	ErrIndexOutOfRange = 1
	ErrInputMismatch   = 2
	// ErrShapeMismatch: run-time data (TopK's k, the number of NonZero
	// results, ...) asks for an output shape other than the static one the
	// module was compiled to.
	ErrShapeMismatch = 3
	// ErrBranchNotCompiled: a run-time If condition selects a branch that
	// cannot run with the shapes the module was compiled for (the model
	// would fail there too), so the module has no code for it.
	ErrBranchNotCompiled = 4
	// ErrLoopLimit: the run's Loop nodes, together, ran more iterations
	// than the bound the module was compiled with (mlc compile
	// --max-loop-iterations, DefaultMaxLoopIterations unless given). A trip
	// count or condition from an input could otherwise keep mlc_run busy
	// for ever.
	ErrLoopLimit = 5
)

// DefaultMaxLoopIterations is the Loop iteration bound of one mlc_run
// unless mlc compile --max-loop-iterations says otherwise.
const DefaultMaxLoopIterations = 1 << 31

// RunErrorMessages are the standard meanings of mlc_run's results.
var RunErrorMessages = map[string]string{
	"1": "an index in the input data is out of range",
	"2": "an input differs from the value the module was compiled for (--input-value)",
	"3": "the input data implies an output shape other than the one the module was compiled for",
	"4": "the input data selects an If branch that cannot run with the input shapes the module was compiled for",
	"5": "the model's Loops ran more iterations than the module allows (mlc compile --max-loop-iterations)",
}

// DTypeBits is the storage size in bits of one element of each dtype a
// module's tensors may have (numpy names; sub-byte types pack two or four
// elements per byte, low bits first).
var DTypeBits = map[string]int{
	"float32": 32, "float64": 64, "float16": 16, "bfloat16": 16,
	"int8": 8, "int16": 16, "int32": 32, "int64": 64,
	"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "bool": 8,
	"float8_e4m3fn": 8, "float8_e4m3fnuz": 8, "float8_e5m2": 8, "float8_e5m2fnuz": 8, "float8_e8m0fnu": 8,
	"float4_e2m1fn": 4, "int4": 4, "uint4": 4, "int2": 2, "uint2": 2,
}

// maxMemoryBytes is the largest Wasm32 linear memory (65536 pages).
const maxMemoryBytes = 1 << 32

// Validate checks the metadata against the instance's memory size: every
// input and output has a known dtype, a shape whose byte size (computed
// without overflow) is its bytes, and lies inside memory. A host calls it
// before trusting any offset: a module that lies about its buffers would
// otherwise make the host read or write the wrong bytes, or allocate what
// the shape claims.
func (m *Metadata) Validate(memorySize uint64) error {
	if memorySize > maxMemoryBytes {
		return fmt.Errorf("mlc metadata: memory of %d bytes is larger than Wasm32 allows", memorySize)
	}
	if m.MemoryBytes < 0 || uint64(m.MemoryBytes) > memorySize {
		return fmt.Errorf("mlc metadata: memory_bytes %d, but the module's memory has %d bytes", m.MemoryBytes, memorySize)
	}
	for _, list := range []struct {
		kind string
		ts   []Tensor
	}{{"input", m.Inputs}, {"output", m.Outputs}} {
		names := map[string]bool{}
		for _, t := range list.ts {
			if names[t.Name] {
				return fmt.Errorf("mlc metadata: two %ss are named %q", list.kind, t.Name)
			}
			names[t.Name] = true
			if err := t.validate(memorySize); err != nil {
				return fmt.Errorf("mlc metadata: %s %q: %w", list.kind, t.Name, err)
			}
		}
	}
	return nil
}

// validate checks one tensor's dtype, shape, bytes and place in memory.
func (t Tensor) validate(memorySize uint64) error {
	bits, ok := DTypeBits[t.DType]
	if !ok {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	// Every quantity stays below 2^32 (memory's bound) before it is
	// multiplied, so no product overflows 64 bits.
	elems := uint64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
		if d == 0 {
			elems = 0
		}
	}
	for _, d := range t.Shape {
		if elems *= uint64(d); elems > 8*maxMemoryBytes {
			return fmt.Errorf("shape %v is larger than a module's memory", t.Shape)
		}
	}
	want := (elems*uint64(bits) + 7) / 8
	if t.Bytes < 0 || uint64(t.Bytes) != want {
		return fmt.Errorf("bytes is %d, but %s%v takes %d", t.Bytes, t.DType, t.Shape, want)
	}
	if t.Offset < 0 || uint64(t.Offset) > memorySize || want > memorySize-uint64(t.Offset) {
		return fmt.Errorf("%d bytes at offset %d lie outside the module's memory of %d bytes", t.Bytes, t.Offset, memorySize)
	}
	return nil
}

// Read extracts the metadata from module bytes.
func Read(module []byte) (*Metadata, error) {
	data, err := CustomSection(module, SectionName)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, errors.New("not an mlc module: it has no \"mlc\" custom section")
	}
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("mlc metadata: %w", err)
	}
	switch {
	case m.ABI == Version && m.Threads == 0:
	case Threaded(m.ABI) && m.Threads >= 2:
	case Threaded(m.ABI):
		return nil, fmt.Errorf("mlc module ABI %d with threads %d (want at least 2)", m.ABI, m.Threads)
	default:
		return nil, fmt.Errorf("mlc module ABI %d, this host speaks ABI %d, %d and %d", m.ABI, Version, VersionThreads, VersionTimedThreads)
	}
	return &m, nil
}

// Sections lists the id, name (for custom sections) and size of each section.
type Section struct {
	ID   byte
	Name string
	Size int
	Data []byte // contents after the custom section's name
}

// ReadSections splits a module into sections without decoding them.
func ReadSections(module []byte) ([]Section, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module")
	}
	var out []Section
	p := 8
	// Sizes are unsigned LEB128, which is binary.Uvarint's encoding.
	for p < len(module) {
		id := module[p]
		p++
		size, n := binary.Uvarint(module[p:])
		if n <= 0 || size > uint64(len(module)-p-n) { // compared unsigned: a huge size must not wrap
			return nil, errors.New("truncated WebAssembly module")
		}
		p += n
		body := module[p : p+int(size)]
		s := Section{ID: id, Size: int(size), Data: body}
		if id == 0 {
			l, m := binary.Uvarint(body)
			if m <= 0 || l > uint64(len(body)-m) {
				return nil, errors.New("malformed custom section")
			}
			s.Name = string(body[m : m+int(l)])
			s.Data = body[m+int(l):]
		}
		out = append(out, s)
		p += int(size)
	}
	return out, nil
}

// CustomSection returns the contents of the named custom section, or nil.
func CustomSection(module []byte, name string) ([]byte, error) {
	secs, err := ReadSections(module)
	if err != nil {
		return nil, err
	}
	for _, s := range secs {
		if s.ID == 0 && s.Name == name {
			return s.Data, nil
		}
	}
	return nil, nil
}
