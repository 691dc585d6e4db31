package quant

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
)

// LoadData reads calibration samples for a graph's inputs from path: a
// .npy file holding a batch along axis 0 (models with one input; each
// sample is as many rows as the input's first dimension), or a folder of
// test_data_set_* folders with input_N.pb files in the order of the
// inputs. limit > 0 keeps the first limit samples.
func LoadData(path string, inputs []*ir.Value, limit int) ([]map[string]*ir.Tensor, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var data []map[string]*ir.Tensor
	if st.IsDir() {
		data, err = loadSets(path, inputs)
	} else {
		data, err = loadBatch(path, inputs)
	}
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(data) > limit {
		data = data[:limit]
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s holds no calibration samples", path)
	}
	return data, nil
}

func loadBatch(path string, inputs []*ir.Value) ([]map[string]*ir.Tensor, error) {
	if !strings.HasSuffix(path, ".npy") {
		return nil, fmt.Errorf("calibration data %s: want a .npy file or a folder of test_data_set_* folders", path)
	}
	if len(inputs) != 1 {
		return nil, fmt.Errorf("calibration data %s: a .npy batch serves models with one input; this one has %d (use a folder of test_data_set_* folders)", path, len(inputs))
	}
	in := inputs[0]
	t, err := hostir.ReadNPY(path)
	if err != nil {
		return nil, err
	}
	s := in.Type.Shape
	if t.DType != in.Type.DType || len(s) == 0 || len(t.Shape) != len(s) || !t.Shape[1:].Equal(s[1:]) || s[0] == 0 {
		return nil, fmt.Errorf("calibration data %s is %s; want a batch of %s along axis 0 (input %q)", path, t.Type, in.Type, in.Name)
	}
	n := t.Shape[0] / s[0]
	per := in.Type.Bytes()
	out := make([]map[string]*ir.Tensor, n)
	for i := range out {
		out[i] = map[string]*ir.Tensor{in.Name: {Type: in.Type, Data: t.Data[i*per : (i+1)*per]}}
	}
	return out, nil
}

func loadSets(dir string, inputs []*ir.Value) ([]map[string]*ir.Tensor, error) {
	dirs, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return nil, fmt.Errorf("calibration data %s has no test_data_set_* folders", dir)
	}
	var out []map[string]*ir.Tensor
	for _, d := range dirs {
		feed := map[string]*ir.Tensor{}
		for i, in := range inputs {
			p := filepath.Join(d, fmt.Sprintf("input_%d.pb", i))
			t, _, err := frontend.ReadTensorFile(p)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("calibration data %s has no input_%d.pb for input %q", d, i, in.Name)
			}
			if err != nil {
				return nil, err
			}
			if t.DType != in.Type.DType || !t.Shape.Equal(in.Type.Shape) {
				return nil, fmt.Errorf("%s is %s; input %q is %s", p, t.Type, in.Name, in.Type)
			}
			feed[in.Name] = t
		}
		out = append(out, feed)
	}
	return out, nil
}
