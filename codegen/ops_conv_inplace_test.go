package codegen_test

import (
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/tune"
)

// TestGatherInPlaceBits: convolutions without padding (strided 1x1
// downsamples, unpadded windows) gather col from their input in place;
// their outputs are the bits of the form that gathered from a copy of the
// input, in each tune's form (packed A, the portable shape's pixels as A,
// packed B).
func TestGatherInPlaceBits(t *testing.T) {
	cases := []convGeo{
		{64, 28, 28, 32, 1, 2, 1, [4]int{}},  // a resnet downsample
		{32, 15, 13, 24, 1, 2, 1, [4]int{}},  // odd map: the last column unread
		{16, 14, 14, 8, 1, 3, 1, [4]int{}},   // stride 3: the last row unread
		{256, 14, 14, 64, 1, 2, 1, [4]int{}}, // deep, few pixels
		{8, 17, 19, 12, 3, 2, 1, [4]int{}},   // an unpadded 3x3 window
		{3, 31, 29, 16, 3, 2, 2, [4]int{}},   // dilated
	}
	defer codegen.SetGatherCopy(false)
	convFormsBits(t, cases, []string{tune.Portable, tune.V8, tune.Wazero}, [2]string{"from a copy", "in place"},
		func(inPlace bool) { codegen.SetGatherCopy(!inPlace) })
}
