package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// modelInfo is the schema mlc.inspect for an ONNX model (kind "model").
type modelInfo struct {
	header
	Kind            string           `json:"kind"`
	File            string           `json:"file"`
	IRVersion       int64            `json:"ir_version"`
	Producer        string           `json:"producer"`
	ProducerVersion string           `json:"producer_version"`
	Opsets          map[string]int64 `json:"opsets"`
	Inputs          []valueInfo      `json:"inputs"`
	Outputs         []valueInfo      `json:"outputs"`
	Initializers    int              `json:"initializers"`
	Ops             []opCount        `json:"ops"`
	Unsupported     []string         `json:"unsupported"`
	// Compiles says whether a trial compilation with the --input-shape and
	// --input-value flags succeeds; CompileError says why not.
	Compiles     bool   `json:"compiles"`
	CompileError string `json:"compile_error,omitempty"`
	// MFLOPs is the work in Conv, Gemm and MatMul, when the model imports.
	MFLOPs *float64 `json:"mflops"`
	// moduleBytes and memory describe the compiled module for the text
	// output: its size and where its linear memory goes.
	moduleBytes int
	memory      *mlc.Memory
}

// valueInfo is a model input or output as the model declares it: each
// dimension is a number, a string naming a symbolic dimension, or null
// when unknown; the shape is null when not even the rank is known.
type valueInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

type opCount struct {
	Op        string `json:"op"` // domain.op outside the default domain
	Count     int    `json:"count"`
	Supported bool   `json:"supported"`
}

// moduleInfo is the schema mlc.inspect for an mlc module (kind "module").
type moduleInfo struct {
	header
	Kind        string        `json:"kind"`
	File        string        `json:"file"`
	Bytes       int           `json:"bytes"`
	CodeBytes   int           `json:"code_bytes"`
	DataBytes   int           `json:"data_bytes"`
	OtherBytes  int           `json:"other_bytes"`
	MemoryBytes int           `json:"memory_bytes"`
	Metadata    *abi.Metadata `json:"metadata"`
}

func inspectCmd() *cobra.Command {
	var cf compileFlags
	var js jsonFlag
	var showIR bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL.onnx|MODULE.wasm",
		Short: "Describe an ONNX model (inputs, outputs, ops, what is unsupported) or an mlc module (ABI metadata, sizes)",
		Long: `inspect describes an ONNX model: its inputs and outputs, its ops and which
mlc does not support, whether it compiles (with the --input-shape and
--input-value given) and its arithmetic; or an mlc module: its sections'
sizes and its ABI metadata. A file that starts like a WebAssembly module is
a module; anything else is read as a model ("-" reads stdin).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, dir, err := readModelArg(cmd, args[0])
			if err != nil {
				return err
			}
			if isWasm(data) {
				info, err := inspectWasm(args[0], data)
				if err != nil {
					return modelError(err)
				}
				printModuleInfo(js.text(cmd), info)
				return js.write(cmd, info)
			}
			if showIR {
				if js.path != "" {
					return usageErrorf("--ir prints text: it does not take --json")
				}
				return inspectIR(cmd.OutOrStdout(), data, dir, cf)
			}
			info, err := inspectONNX(args[0], data)
			if err != nil {
				return modelError(err)
			}
			// A trial compilation finds what the op list cannot: dynamic
			// shapes, unsupported attributes or dtypes.
			o, err := cf.options()
			if err != nil {
				return err
			}
			if res, err := mlc.Compile(data, dir, o); err != nil {
				info.CompileError = err.Error()
			} else {
				info.Compiles = true
				info.moduleBytes, info.memory = res.Bytes, &res.Memory
			}
			// The arithmetic needs shapes, so only a model that imports has it.
			if fo, err := o.Frontend(); err == nil {
				if m, err := frontend.Import(data, dir, fo); err == nil {
					mf := float64(ir.GraphFLOPs(m.Graph)) / 1e6
					info.MFLOPs = &mf
				}
			}
			printModelInfo(js.text(cmd), info)
			return js.write(cmd, info)
		},
	}
	cf.addInputs(cmd)
	cf.addCodegen(cmd, mlc.DefaultTune)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "input-shape" && f.Name != "input-value" {
			f.Usage += " (with --ir)"
		}
	})
	cmd.Flags().BoolVar(&showIR, "ir", false, "print the optimized IR with its memory plan (what codegen receives) instead of describing the ONNX file")
	js.add(cmd, "the description")
	return cmd
}

// inspectIR compiles the model and prints the graph codegen received.
func inspectIR(w io.Writer, data []byte, dir string, cf compileFlags) error {
	o, err := cf.options()
	if err != nil {
		return err
	}
	res, err := mlc.Compile(data, dir, o)
	if err != nil {
		return modelError(err)
	}
	fmt.Fprintf(w, "# %s\n%s", res.Plan.Summary(), res.Graph.Format(res.Plan))
	return nil
}

func inspectWasm(file string, data []byte) (*moduleInfo, error) {
	meta, err := abi.Read(data)
	if err != nil {
		return nil, err
	}
	secs, err := abi.ReadSections(data)
	if err != nil {
		return nil, err
	}
	info := &moduleInfo{header: newHeader("mlc.inspect"), Kind: "module", File: file, Bytes: len(data), MemoryBytes: meta.MemoryBytes, Metadata: meta}
	for _, s := range secs {
		switch s.ID {
		case 10:
			info.CodeBytes = s.Size
		case 11:
			info.DataBytes = s.Size
		}
	}
	info.OtherBytes = len(data) - info.CodeBytes - info.DataBytes
	return info, nil
}

func printModuleInfo(w io.Writer, info *moduleInfo) {
	meta := info.Metadata
	fmt.Fprintf(w, "mlc module (ABI %d), %d bytes: code %d bytes, data %d bytes, other %d bytes; memory %d bytes\n", meta.ABI, info.Bytes, info.CodeBytes, info.DataBytes, info.OtherBytes, meta.MemoryBytes)
	fmt.Fprintf(w, "producer %s, simd %v", meta.Producer, meta.SIMD)
	if len(meta.Options) > 0 {
		fmt.Fprintf(w, ", options %s", strings.Join(meta.Options, " "))
	}
	fmt.Fprintln(w)
	for _, part := range []struct {
		what string
		ts   []abi.Tensor
	}{{"inputs", meta.Inputs}, {"outputs", meta.Outputs}} {
		fmt.Fprintf(w, "%s:\n", part.what)
		for _, t := range part.ts {
			fmt.Fprintf(w, "  %s %s at %d (%d bytes)\n", t.Name, typeString(t.DType, t.Shape), t.Offset, t.Bytes)
		}
	}
	if len(meta.FixedInputs) > 0 {
		fmt.Fprintf(w, "specialized on the values of: %s\n", strings.Join(meta.FixedInputs, ", "))
	}
	if meta.ModelSHA256 != "" {
		fmt.Fprintf(w, "model sha256 %s\n", meta.ModelSHA256)
	}
}

func inspectONNX(file string, data []byte) (*modelInfo, error) {
	mp, err := frontend.Decode(data)
	if err != nil {
		return nil, err
	}
	info := &modelInfo{header: newHeader("mlc.inspect"), Kind: "model", File: file,
		IRVersion: mp.GetIrVersion(), Producer: mp.GetProducerName(), ProducerVersion: mp.GetProducerVersion(),
		Opsets: map[string]int64{}, Initializers: len(mp.Graph.Initializer), Unsupported: []string{}}
	for _, o := range mp.OpsetImport {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		info.Opsets[d] = o.GetVersion()
	}
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	for _, vi := range mp.Graph.Input {
		if !inits[vi.GetName()] {
			info.Inputs = append(info.Inputs, declared(vi))
		}
	}
	for _, vi := range mp.Graph.Output {
		info.Outputs = append(info.Outputs, declared(vi))
	}
	hist := map[string]int{}
	frontend.EachNode(mp.Graph, func(n *onnxpb.NodeProto) {
		key := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			key = d + "." + key
		}
		hist[key]++
	})
	keys := make([]string, 0, len(hist))
	for k := range hist {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		domain, op := "ai.onnx", k
		if i := strings.LastIndex(k, "."); i > 0 {
			domain, op = k[:i], k[i+1:]
		}
		ok := frontend.IsSupported(domain, op, int(info.Opsets[domain]))
		if !ok {
			info.Unsupported = append(info.Unsupported, k)
		}
		info.Ops = append(info.Ops, opCount{k, hist[k], ok})
	}
	return info, nil
}

func printModelInfo(w io.Writer, info *modelInfo) {
	fmt.Fprintf(w, "ONNX model: ir_version %d, producer %s %s\n", info.IRVersion, info.Producer, info.ProducerVersion)
	domains := make([]string, 0, len(info.Opsets))
	for d := range info.Opsets {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		fmt.Fprintf(w, "opset %s %d\n", d, info.Opsets[d])
	}
	fmt.Fprintln(w, "inputs:")
	for _, v := range info.Inputs {
		fmt.Fprintf(w, "  %s %s\n", v.Name, v.typeString())
	}
	fmt.Fprintln(w, "outputs:")
	for _, v := range info.Outputs {
		fmt.Fprintf(w, "  %s %s\n", v.Name, v.typeString())
	}
	fmt.Fprintf(w, "%d initializers, ops:\n", info.Initializers)
	for _, op := range info.Ops {
		mark := ""
		if !op.Supported {
			mark = "  (unsupported)"
		}
		fmt.Fprintf(w, "  %-28s %d%s\n", op.Op, op.Count, mark)
	}
	if len(info.Unsupported) > 0 {
		fmt.Fprintf(w, "unsupported: %s\n", strings.Join(info.Unsupported, ", "))
	} else {
		fmt.Fprintln(w, "every op is supported")
	}
	if info.Compiles {
		fmt.Fprintf(w, "compiles: module %d bytes\n", info.moduleBytes)
		printMemory(w, info.memory)
	} else {
		fmt.Fprintf(w, "does not compile as given: %s\n", info.CompileError)
	}
	if info.MFLOPs != nil {
		fmt.Fprintf(w, "compute: %.3f MFLOP in Conv, Gemm and MatMul\n", *info.MFLOPs)
	}
}

// declared reads a graph input's or output's declared type.
func declared(vi *onnxpb.ValueInfoProto) valueInfo {
	v := valueInfo{Name: vi.GetName(), DType: "(not a tensor)"}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return v
	}
	dt, err := frontend.DTypeFromONNX(tt.GetElemType())
	v.DType = dt.String()
	if err != nil {
		v.DType = fmt.Sprintf("type%d", tt.GetElemType())
	}
	if tt.Shape == nil {
		return v
	}
	v.Shape = []any{}
	for _, d := range tt.Shape.Dim {
		switch {
		case d.GetDimParam() != "":
			v.Shape = append(v.Shape, d.GetDimParam())
		case d.Value == nil:
			v.Shape = append(v.Shape, nil)
		default:
			v.Shape = append(v.Shape, d.GetDimValue())
		}
	}
	return v
}

// typeString prints the declared type as float32[batch,3,224,224], with ?
// for an unknown dimension and [?] for an unknown rank.
func (v valueInfo) typeString() string {
	if v.Shape == nil {
		return v.DType + "[?]"
	}
	dims := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		if d == nil {
			dims[i] = "?"
		} else {
			dims[i] = fmt.Sprint(d)
		}
	}
	return v.DType + "[" + strings.Join(dims, ",") + "]"
}

// printMemory prints where a module's linear memory goes.
func printMemory(w io.Writer, m *mlc.Memory) {
	mb := func(n int) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	fmt.Fprintf(w, "linear memory %s:\n", mb(m.Total))
	fmt.Fprintf(w, "  weights        %s (at their stored width; %s more only for the first run, in the arena)\n", mb(m.Weights), mb(m.Staged))
	fmt.Fprintf(w, "  prepared       %s (weights in the kernels' layout, computed at the first run)\n", mb(m.Prepared))
	fmt.Fprintf(w, "  inputs         %s (at fixed addresses; outputs are arena buffers)\n", mb(m.IO))
	fmt.Fprintf(w, "  arena          %s: at most %s at once (%s activations + %s workspace, at %s)\n", mb(m.Arena), mb(m.Peak), mb(m.PeakLive), mb(m.PeakWorkspace), m.PeakNode)
	fmt.Fprintf(w, "  other          %s\n", mb(m.Other))
}
