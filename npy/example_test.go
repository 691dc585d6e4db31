package npy_test

import (
	"fmt"
	"log"

	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Read an array numpy saved in Fortran order: it comes back in C order,
// ready to be a module's input.
func ExampleReadFile() {
	t, err := npy.ReadFile("testdata/fortran_f32.npy")
	if err != nil {
		log.Fatal(err)
	}
	v, err := host.Values[float32](t)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t, v[:5])
	// Output: float32[2,3,4] [-3 -2.5 -2 -1.5 -1]
}
