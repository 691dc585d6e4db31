package verify_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mlc-compiler/mlc/verify"
)

var tinyModel = filepath.Join("..", "testdata", "tiny_cnn", "model.onnx")

// Check a model without golden data: seeded inputs, the reference
// interpreter's outputs, the module's outputs on wazero. Save keeps the
// case as golden data in the ONNX backend-test layout.
func ExampleGenerated() {
	ctx := context.Background()
	o := verify.DefaultOptions()
	o.Compile.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	runner, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		log.Fatal(err)
	}
	o.Runner = runner
	res, gc := verify.Generated(ctx, tinyModel, o)
	fmt.Println(res.Status, res.ToleranceFrom, res.Tolerance)

	dir, err := os.MkdirTemp("", "case")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := gc.Save(dir); err != nil {
		log.Fatal(err)
	}
	// Output: pass generated {0.001 1e-05}
}

// Verify a golden case folder: model.onnx, test_data_set_*/ and a
// meta.json with its tolerance.
func ExampleCase() {
	ctx := context.Background()
	runner, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		log.Fatal(err)
	}
	o := verify.DefaultOptions()
	o.Runner = runner
	o.Compile.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	_, gc := verify.Generated(ctx, tinyModel, o)
	dir, err := os.MkdirTemp("", "case")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := gc.Save(dir); err != nil {
		log.Fatal(err)
	}

	o.Compile.InputShapes = nil // the case's inputs pin the shapes
	res := verify.Case(ctx, dir, o)
	fmt.Println(res.Status, res.ToleranceFrom, len(res.Outputs), "output")
	// Output: pass meta.json 1 output
}
