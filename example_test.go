package mlc_test

import (
	"fmt"
	"log"

	"github.com/mlc-compiler/mlc"
)

// Compile a model into a module. The tiny model's batch dimension is
// symbolic, so its input shape is pinned. HostOptions is what a Go program
// running the module itself should use: today the same as DefaultOptions,
// the portable kernel shape, fast on wazero and in V8 alike.
func ExampleCompileFile() {
	o := mlc.HostOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile("testdata/tiny_cnn/model.onnx", o)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range res.Meta.Inputs {
		fmt.Println("input", t.Name, t.DType, t.Shape)
	}
	for _, t := range res.Meta.Outputs {
		fmt.Println("output", t.Name, t.DType, t.Shape)
	}
	fmt.Println("options", res.Meta.Options)
	// Output:
	// input image float32 [1 1 8 8]
	// output probs float32 [1 10]
	// options [input-shape=image=1,1,8,8]
}
