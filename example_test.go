package mlc_test

import (
	"fmt"
	"log"

	"github.com/mlc-compiler/mlc"
)

// Compile a model into a module. The tiny model's batch dimension is
// symbolic, so its input shape is pinned; HostOptions tunes the kernels for
// wazero, where the module runs in a Go program (DefaultOptions would tune
// them for V8, as mlc compile does).
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
	// options [tune=wazero input-shape=image=1,1,8,8]
}
