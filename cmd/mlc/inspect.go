package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

func inspectCmd() *cobra.Command {
	var cf compileFlags
	var showIR bool
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Describe an ONNX model (inputs, outputs, ops, what is unsupported) or an mlc module (ABI metadata, sizes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if isWasm(data) {
				return inspectWasm(w, data)
			}
			if showIR {
				return inspectIR(w, data, filepath.Dir(args[0]), cf)
			}
			if err := inspectONNX(w, data); err != nil {
				return err
			}
			// A trial compilation finds what the op list cannot: dynamic
			// shapes, unsupported attributes or dtypes.
			o, err := cf.options()
			if err != nil {
				return err
			}
			if _, err := mlc.Compile(data, filepath.Dir(args[0]), o); err != nil {
				fmt.Fprintf(w, "does not compile as given: %v\n", err)
			} else {
				fmt.Fprintln(w, "compiles")
			}
			// The arithmetic needs shapes, so only a model that imports has it.
			if m, err := frontend.Import(data, filepath.Dir(args[0]), frontend.Options{InputShapes: o.InputShapes, InputValues: o.InputValues}); err == nil {
				fmt.Fprintf(w, "compute: %.3f MFLOP in Conv, Gemm and MatMul\n", float64(ir.GraphFLOPs(m.Graph))/1e6)
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVar(&showIR, "ir", false, "print the optimized IR with its memory plan (what codegen receives) instead of describing the ONNX file")
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
		return err
	}
	fmt.Fprintf(w, "# %s\n%s", res.Plan.Summary(), res.Graph.Format(res.Plan))
	return nil
}

func inspectWasm(w io.Writer, data []byte) error {
	meta, err := abi.Read(data)
	if err != nil {
		return err
	}
	secs, err := abi.ReadSections(data)
	if err != nil {
		return err
	}
	code, dataBytes := 0, 0
	for _, s := range secs {
		switch s.ID {
		case 10:
			code = s.Size
		case 11:
			dataBytes = s.Size
		}
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	fmt.Fprintf(w, "mlc module, %d bytes: code %d bytes, data %d bytes, other %d bytes; memory %d bytes\n", len(data), code, dataBytes, len(data)-code-dataBytes, meta.MemoryBytes)
	fmt.Fprintf(w, "%s\n", b)
	return nil
}

func inspectONNX(w io.Writer, data []byte) error {
	mp, err := frontend.Decode(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "ONNX model: ir_version %d, producer %s %s\n", mp.GetIrVersion(), mp.GetProducerName(), mp.GetProducerVersion())
	opsets := map[string]int64{}
	for _, o := range mp.OpsetImport {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		opsets[d] = o.GetVersion()
		fmt.Fprintf(w, "opset %s %d\n", d, o.GetVersion())
	}
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	fmt.Fprintln(w, "inputs:")
	for _, vi := range mp.Graph.Input {
		if !inits[vi.GetName()] {
			fmt.Fprintf(w, "  %s %s\n", vi.GetName(), typeString(vi.GetType()))
		}
	}
	fmt.Fprintln(w, "outputs:")
	for _, vi := range mp.Graph.Output {
		fmt.Fprintf(w, "  %s %s\n", vi.GetName(), typeString(vi.GetType()))
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
	fmt.Fprintf(w, "%d initializers, ops:\n", len(mp.Graph.Initializer))
	var unsupported []string
	for _, k := range keys {
		domain, op := "ai.onnx", k
		if i := strings.LastIndex(k, "."); i > 0 {
			domain, op = k[:i], k[i+1:]
		}
		mark := ""
		if !frontend.IsSupported(domain, op, int(opsets[domain])) {
			mark = "  (unsupported)"
			unsupported = append(unsupported, k)
		}
		fmt.Fprintf(w, "  %-28s %d%s\n", k, hist[k], mark)
	}
	if len(unsupported) > 0 {
		fmt.Fprintf(w, "unsupported: %s\n", strings.Join(unsupported, ", "))
	} else {
		fmt.Fprintln(w, "every op is supported")
	}
	return nil
}

func typeString(t *onnxpb.TypeProto) string {
	tt := t.GetTensorType()
	if tt == nil {
		return "(not a tensor)"
	}
	dt, err := frontend.DTypeFromONNX(tt.GetElemType())
	name := dt.String()
	if err != nil {
		name = fmt.Sprintf("type%d", tt.GetElemType())
	}
	if tt.Shape == nil {
		return name + "[?]"
	}
	var dims []string
	for _, d := range tt.Shape.Dim {
		switch {
		case d.GetDimParam() != "":
			dims = append(dims, d.GetDimParam())
		case d.Value == nil:
			dims = append(dims, "?")
		default:
			dims = append(dims, fmt.Sprint(d.GetDimValue()))
		}
	}
	return name + "[" + strings.Join(dims, ",") + "]"
}
