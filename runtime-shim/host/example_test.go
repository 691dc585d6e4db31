package host_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Run a module on wazero with named tensors. The module comes from
// mlc.Compile here; it could as well be a .wasm file mlc compile wrote.
func ExampleModel_Run() {
	o := mlc.HostOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile(filepath.Join("..", "..", "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		log.Fatal(err)
	}
	pixels := make([]float32, 64)
	for i := range pixels {
		pixels[i] = float32(i%8) / 8 // a horizontal ramp
	}
	image, err := host.New([]int{1, 1, 8, 8}, pixels)
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.Run(ctx, map[string]*host.Tensor{"image": image})
	if err != nil {
		log.Fatal(err)
	}
	probs, err := host.Values[float32](out["probs"])
	if err != nil {
		log.Fatal(err)
	}
	best, sum := 0, float32(0)
	for i, p := range probs {
		sum += p
		if p > probs[best] {
			best = i
		}
	}
	fmt.Printf("%s: class %d, probabilities sum to %.3f\n", out["probs"], best, sum)
	// Output:
	// float32[1,10]: class 2, probabilities sum to 1.000
}
