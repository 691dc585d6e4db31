package ir

import (
	"fmt"
	"slices"
)

// Spatial scatter and selection: NonMaxSuppression, MaxUnpool, Col2Im.

// NonMaxSuppression selects boxes greedily by score per batch and class,
// dropping those that overlap a selected box by more than the IoU
// threshold. Its output row count depends on the data: constant inputs
// fold, otherwise Count is the size the importer settled from the model's
// declared output shape and the kernel checks the data agrees.
type NonMaxSuppression struct {
	CenterPointBox bool
	Count          int // selected boxes when the inputs are run-time data, or -1
}

func (*NonMaxSuppression) OpType() string { return "NonMaxSuppression" }

func (s *NonMaxSuppression) Infer(in []*Value) ([]Type, error) {
	b, sc := in[0].Type, in[1].Type
	if b.DType != Float32 || sc.DType != Float32 {
		return nil, NotSupportedf("NonMaxSuppression of %s boxes and %s scores (float32 only)", b.DType, sc.DType)
	}
	if len(b.Shape) != 3 || b.Shape[2] != 4 || len(sc.Shape) != 3 || sc.Shape[0] != b.Shape[0] || sc.Shape[2] != b.Shape[1] {
		return nil, fmt.Errorf("boxes %s and scores %s must be [batches, boxes, 4] and [batches, classes, boxes]", b.Shape, sc.Shape)
	}
	for i, want := range []DType{Int64, Float32, Float32} {
		if v := getIn(in, 2+i); v != nil && (v.Type.DType != want || v.Type.Shape.Size() != 1) {
			return nil, fmt.Errorf("input %d must be one %s, got %s", 2+i, want, v.Type)
		}
	}
	if s.Count < 0 {
		return nil, dataDependent("NonMaxSuppression")
	}
	if s.Count > sc.Shape.Size() {
		return nil, fmt.Errorf("the declared %d selected boxes exceed the %d scores", s.Count, sc.Shape.Size())
	}
	return Types(Type{Int64, Shape{s.Count, 3}}), nil
}

// nmsSuppress reports whether boxes a and b overlap by more than iou,
// computing in float32 in the order of the ONNX reference.
func nmsSuppress(a, b []float32, center bool, iou float32) bool {
	minMax := func(l, r float32) (float32, float32) {
		if l >= r {
			return r, l
		}
		return l, r
	}
	pyMax := func(x, y float32) float32 {
		if y > x {
			return y
		}
		return x
	}
	pyMin := func(x, y float32) float32 {
		if y < x {
			return y
		}
		return x
	}
	var ax0, ax1, ay0, ay1, bx0, bx1, by0, by1 float32
	if center {
		aw, ah, bw, bh := a[2]/2, a[3]/2, b[2]/2, b[3]/2
		ax0, ax1, ay0, ay1 = a[0]-aw, a[0]+aw, a[1]-ah, a[1]+ah
		bx0, bx1, by0, by1 = b[0]-bw, b[0]+bw, b[1]-bh, b[1]+bh
	} else {
		ax0, ax1 = minMax(a[1], a[3])
		bx0, bx1 = minMax(b[1], b[3])
		ay0, ay1 = minMax(a[0], a[2])
		by0, by1 = minMax(b[0], b[2])
	}
	ix0, ix1 := pyMax(ax0, bx0), pyMin(ax1, bx1)
	if ix1 <= ix0 {
		return false
	}
	iy0, iy1 := pyMax(ay0, by0), pyMin(ay1, by1)
	if iy1 <= iy0 {
		return false
	}
	inter := (ix1 - ix0) * (iy1 - iy0)
	if inter <= 0 {
		return false
	}
	areaA := (ax1 - ax0) * (ay1 - ay0)
	areaB := (bx1 - bx0) * (by1 - by0)
	union := areaA + areaB - inter
	if areaA <= 0 || areaB <= 0 || union <= 0 {
		return false
	}
	return inter/union > iou
}

func (s *NonMaxSuppression) Eval(in []*Tensor) ([]*Tensor, error) {
	boxes, scores := in[0].F32(), in[1].F32()
	nb, nc, n := in[1].Shape[0], in[1].Shape[1], in[1].Shape[2]
	maxOut := 0
	if t := getT(in, 2); t != nil && t.Len() > 0 {
		maxOut = int(min(max(t.Int(0), 0), int64(n)))
	}
	var iou float32
	if t := getT(in, 3); t != nil && t.Len() > 0 {
		iou = t.F32()[0]
	}
	thr := getT(in, 4)
	var sel []int64
	for b := 0; b < nb; b++ {
		for c := 0; c < nc; c++ {
			sc := scores[(b*nc+c)*n : (b*nc+c+1)*n]
			var cand []int
			for i := 0; i < n; i++ {
				if thr == nil || thr.Len() == 0 || sc[i] > thr.F32()[0] {
					cand = append(cand, i)
				}
			}
			// highest score first, ties by lower index
			slices.SortStableFunc(cand, func(i, j int) int {
				switch {
				case sc[i] > sc[j]:
					return -1
				case sc[i] < sc[j]:
					return 1
				}
				return 0
			})
			var kept []int
			for _, i := range cand {
				if len(kept) >= maxOut {
					break
				}
				ok := true
				for _, j := range kept {
					if nmsSuppress(boxes[(b*n+i)*4:(b*n+i)*4+4], boxes[(b*n+j)*4:(b*n+j)*4+4], s.CenterPointBox, iou) {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, i)
					sel = append(sel, int64(b), int64(c), int64(i))
				}
			}
		}
	}
	rows := len(sel) / 3
	if s.Count >= 0 && rows != s.Count {
		return nil, fmt.Errorf("%d boxes selected, the output shape was settled for %d", rows, s.Count)
	}
	return []*Tensor{TensorI64(Shape{rows, 3}, sel...)}, nil
}

// MaxUnpool scatters the values of X to the flat positions Indices (as
// MaxPool returned them) in a zero tensor of the shape MaxPool's input
// had, placed at the start of a possibly larger output shape.
type MaxUnpool struct {
	Kernel, Pads, Strides []int
	OutShape              Shape // the output shape when input 2 is run-time data
}

func (*MaxUnpool) OpType() string { return "MaxUnpool" }

// Inferred is the shape MaxPool's input had.
func (m *MaxUnpool) Inferred(x Shape) (Shape, error) {
	k := len(m.Kernel)
	if len(x) != k+2 {
		return nil, fmt.Errorf("input %s must have rank %d for a %d-D kernel", x, k+2, k)
	}
	out := x.Clone()
	for d := 0; d < k; d++ {
		s, pb, pe := 1, 0, 0
		if m.Strides != nil {
			s = m.Strides[d]
		}
		if m.Pads != nil {
			pb, pe = m.Pads[d], m.Pads[k+d]
		}
		out[d+2] = (x[d+2]-1)*s - (pb + pe) + m.Kernel[d]
		if out[d+2] < 0 {
			return nil, fmt.Errorf("kernel %v, strides %v and pads %v give a negative output size", m.Kernel, m.Strides, m.Pads)
		}
	}
	return out, nil
}

func (m *MaxUnpool) outShape(x Shape, given Shape) (Shape, Shape, error) {
	inf, err := m.Inferred(x)
	if err != nil {
		return nil, nil, err
	}
	if given == nil {
		return inf, inf, nil
	}
	if len(given) != len(inf) || given[0] != inf[0] || given[1] != inf[1] {
		return nil, nil, fmt.Errorf("output_shape %v does not fit the input %s", given, x)
	}
	for d := 2; d < len(inf); d++ {
		if given[d] < inf[d] {
			return nil, nil, fmt.Errorf("output_shape %v is smaller than the unpooled shape %s", given, inf)
		}
	}
	return inf, given, nil
}

func (m *MaxUnpool) Infer(in []*Value) ([]Type, error) {
	x, idx := in[0].Type, in[1].Type
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("MaxUnpool input must be a float tensor, got %s", x.DType)
	}
	if idx.DType != Int64 || !idx.Shape.Equal(x.Shape) {
		return nil, fmt.Errorf("indices %s must be int64 of the input's shape %s", idx, x.Shape)
	}
	var given Shape
	if v := getIn(in, 2); v != nil {
		if v.Type.DType != Int64 || !v.Type.Shape.Equal(Shape{len(x.Shape)}) {
			return nil, fmt.Errorf("output_shape must be int64[%d], got %s", len(x.Shape), v.Type)
		}
		if v.Const != nil {
			given = Shape(v.Const.Ints())
		} else if given = m.OutShape; given == nil {
			return nil, NotSupportedf("output_shape is computed at run time and the model declares no static output shape")
		}
	}
	_, out, err := m.outShape(x.Shape, given)
	return Types(Type{x.DType, out}), err
}

func (m *MaxUnpool) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx := in[0], in[1]
	var given Shape
	if t := getT(in, 2); t != nil {
		given = Shape(t.Ints())
		if m.OutShape != nil && !given.Equal(m.OutShape) {
			return nil, fmt.Errorf("output_shape %v differs from the settled %s", given, m.OutShape)
		}
	}
	inf, out, err := m.outShape(x.Shape, given)
	if err != nil {
		return nil, err
	}
	y := NewTensor(x.DType, out)
	ist, ost := inf.Strides(), out.Strides()
	total := inf.Size()
	for e := range x.Len() {
		i := idx.Int(e)
		if i < 0 || i >= int64(total) {
			return nil, fmt.Errorf("index %d out of range for the unpooled shape %s", i, inf)
		}
		o := 0
		for d := range inf {
			o += int(i) / ist[d] % inf[d] * ost[d]
		}
		copyElem(y, o, x, e)
	}
	return []*Tensor{y}, nil
}

// Col2Im sums the columns of input 0 ([N, C*prod(block), L]) back into an
// image of shape [N, C, image...]: the inverse of im2col. Image and block
// shapes come from inputs 1 and 2; when those are run-time data, Image is
// the shape settled from the model's declared output and Blocks the block
// shapes consistent with the static shapes (the kernel branches on the
// data among them).
type Col2Im struct {
	Dilations, Pads, Strides []int
	Image                    []int
	Blocks                   [][]int
}

func (*Col2Im) OpType() string { return "Col2Im" }

// AxisWindow is the dilation, stride and begin and end padding of image
// dimension i of d, with the defaults applied.
func (c *Col2Im) AxisWindow(i, d int) (dil, st, pb, pe int) {
	dil, st = 1, 1
	if c.Dilations != nil {
		dil = c.Dilations[i]
	}
	if c.Strides != nil {
		st = c.Strides[i]
	}
	if c.Pads != nil {
		pb, pe = c.Pads[i], c.Pads[d+i]
	}
	return dil, st, pb, pe
}

// Geometry checks one image and block shape against the input shape
// and returns the channel count and the number of blocks per dimension.
func (c *Col2Im) Geometry(x Shape, image, block []int) (int, []int, error) {
	d := len(image)
	if len(x) != 3 || len(block) != d || d == 0 {
		return 0, nil, fmt.Errorf("input %s, image_shape %v and block_shape %v do not fit", x, image, block)
	}
	if c.Dilations != nil && len(c.Dilations) != d || c.Strides != nil && len(c.Strides) != d || c.Pads != nil && len(c.Pads) != 2*d {
		return 0, nil, fmt.Errorf("dilations %v, strides %v and pads %v do not match %d image dimensions", c.Dilations, c.Strides, c.Pads, d)
	}
	kernel := 1
	n := make([]int, d)
	total := 1
	for i := 0; i < d; i++ {
		dil, st, pb, pe := c.AxisWindow(i, d)
		if block[i] < 1 || image[i] < 1 || st < 1 || dil < 1 {
			return 0, nil, fmt.Errorf("image_shape %v and block_shape %v must be positive", image, block)
		}
		kernel *= block[i]
		span := image[i] + pb + pe - dil*(block[i]-1) - 1
		if span < 0 {
			return 0, nil, fmt.Errorf("block_shape %v does not fit image_shape %v", block, image)
		}
		n[i] = span/st + 1
		total *= n[i]
	}
	if x[1]%kernel != 0 || x[2] != total {
		return 0, nil, fmt.Errorf("input %s does not match image_shape %v and block_shape %v (%d blocks of %d)", x, image, block, total, kernel)
	}
	return x[1] / kernel, n, nil
}

func (c *Col2Im) shapes(in []*Value) ([]int, [][]int, error) {
	image, blocks := c.Image, c.Blocks
	if v := in[1]; v.Const != nil {
		image = v.Const.Ints()
	}
	if v := in[2]; v.Const != nil {
		blocks = [][]int{v.Const.Ints()}
	}
	if image == nil || len(blocks) == 0 {
		return nil, nil, NotSupportedf("image_shape and block_shape are computed at run time and the model declares no static output shape that settles them")
	}
	return image, blocks, nil
}

func (c *Col2Im) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if x.DType == String || x.DType == Bool || x.DType.Bits() < 8 {
		return nil, NotSupportedf("Col2Im of %s", x.DType)
	}
	for i, what := range []string{"image_shape", "block_shape"} {
		if t := in[1+i].Type; t.DType != Int64 || len(t.Shape) != 1 || len(x.Shape) != 3 {
			return nil, fmt.Errorf("%s must be a 1-D int64 tensor and the input 3-D, got %s and %s", what, t, x)
		}
	}
	image, blocks, err := c.shapes(in)
	if err != nil {
		return nil, err
	}
	ch := -1
	for _, b := range blocks {
		c2, _, err := c.Geometry(x.Shape, image, b)
		if err != nil {
			return nil, err
		}
		if ch >= 0 && c2 != ch {
			return nil, fmt.Errorf("block shape candidates %v give different channel counts", blocks)
		}
		ch = c2
	}
	return Types(Type{x.DType, append(Shape{x.Shape[0], ch}, image...)}), nil
}

func (c *Col2Im) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	image, block := in[1].Ints(), in[2].Ints()
	if c.Image != nil && !slices.Equal(image, c.Image) {
		return nil, fmt.Errorf("image_shape %v differs from the settled %v", image, c.Image)
	}
	if len(c.Blocks) > 0 && !slices.ContainsFunc(c.Blocks, func(b []int) bool { return slices.Equal(b, block) }) {
		return nil, fmt.Errorf("block_shape %v is not one of the compiled %v", block, c.Blocks)
	}
	ch, nblocks, err := c.Geometry(x.Shape, image, block)
	if err != nil {
		return nil, err
	}
	d := len(image)
	y := NewTensor(x.DType, append(Shape{x.Shape[0], ch}, image...))
	kernel := Shape(block).Size()
	cols := Shape(nblocks).Size()
	ist := Shape(image).Strides()
	kst, cst := Shape(block).Strides(), Shape(nblocks).Strides()
	imgSize := Shape(image).Size()
	for n := 0; n < x.Shape[0]; n++ {
		for ci := 0; ci < ch; ci++ {
			for k := 0; k < kernel; k++ {
				for l := 0; l < cols; l++ {
					off, inside := 0, true
					for i := 0; i < d; i++ {
						dil, st, pb, _ := c.AxisWindow(i, d)
						p := l/cst[i]%nblocks[i]*st - pb + k/kst[i]%block[i]*dil
						if p < 0 || p >= image[i] {
							inside = false
							break
						}
						off += p * ist[i]
					}
					if inside {
						scatterCombineElem(y, (n*ch+ci)*imgSize+off, x, ((n*ch+ci)*kernel+k)*cols+l, ScatterAdd)
					}
				}
			}
		}
	}
	return []*Tensor{y}, nil
}
