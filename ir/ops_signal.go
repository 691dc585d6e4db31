package ir

import (
	"fmt"
	"math"
	"slices"
)

// Signal processing: DFT, STFT, the Hann, Hamming and Blackman windows and
// MelWeightMatrix. Transforms compute in float64 and round once to the
// output type.

// SignalWindow is HannWindow, HammingWindow or BlackmanWindow: a window of
// Size points of type DType. Size is the settled length when input 0 (the
// size) is run-time data, or -1.
type SignalWindow struct {
	Kind     string // "Hann", "Hamming" or "Blackman"
	Periodic bool
	DType    DType
	Size     int
}

func (w *SignalWindow) OpType() string { return w.Kind + "Window" }

func (w *SignalWindow) size(v *Value) (int, error) {
	if !v.Type.DType.IsInt() || v.Type.Shape.Size() != 1 {
		return 0, fmt.Errorf("size must be an integer scalar, got %s", v.Type)
	}
	if v.Const != nil {
		return int(v.Const.Int(0)), nil
	}
	if w.Size < 0 {
		return 0, NotSupportedf("the window size is computed at run time and the model declares no static output shape")
	}
	return w.Size, nil
}

func (w *SignalWindow) Infer(in []*Value) ([]Type, error) {
	n, err := w.size(in[0])
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("negative window size %d", n)
	}
	return Types(Type{w.DType, Shape{n}}), nil
}

// WindowValue is point i of a window whose period is n (the size when
// periodic, the size minus one when symmetric).
func WindowValue(kind string, i, n int) float64 {
	x := 2 * math.Pi * float64(i) / float64(n)
	switch kind {
	case "Hann":
		s := math.Sin(math.Pi * float64(i) / float64(n))
		return s * s
	case "Hamming":
		return 25.0/46 - math.Cos(x)*(21.0/46)
	}
	return 0.42 - 0.5*math.Cos(x) + 0.08*math.Cos(2*x)
}

func (w *SignalWindow) Eval(in []*Tensor) ([]*Tensor, error) {
	n := int(in[0].Int(0))
	if w.Size >= 0 && n != w.Size {
		return nil, fmt.Errorf("window size %d differs from the settled %d", n, w.Size)
	}
	if n < 0 {
		return nil, fmt.Errorf("negative window size %d", n)
	}
	period := n
	if !w.Periodic {
		period = n - 1
	}
	out := NewTensor(w.DType, Shape{n})
	for i := 0; i < n; i++ {
		out.SetFloat(i, WindowValue(w.Kind, i, period))
	}
	return []*Tensor{out}, nil
}

// DFT is the discrete Fourier transform along Axis of a real ([..., 1]) or
// complex ([..., 2]) signal. When the axis input (opset 20) is run-time
// data, Axes lists the axes that give the settled output shape and the
// kernel branches on the data among them.
type DFT struct {
	Inverse, Onesided bool
	Axis              int   // normalized, when known at compile time
	Axes              []int // candidate axes when input 1 is run-time data
	Length            int   // dft_length, or 0 for the default
}

func (*DFT) OpType() string { return "DFT" }

// DFTShape is the output shape of a transform along axis of x.
func (d *DFT) DFTShape(x Shape, axis int) (Shape, int, error) {
	r := len(x)
	if r < 2 || x[r-1] != 1 && x[r-1] != 2 {
		return nil, 0, fmt.Errorf("input %s must end in a dimension of 1 (real) or 2 (complex)", x)
	}
	if axis < 0 || axis > r-2 {
		return nil, 0, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	n := d.Length
	if n == 0 {
		n = x[axis]
		if d.Inverse && d.Onesided {
			n = 2 * (x[axis] - 1)
		}
	}
	if n < 1 {
		return nil, 0, fmt.Errorf("dft_length %d must be positive", n)
	}
	out := x.Clone()
	out[axis], out[r-1] = n, 2
	switch {
	case d.Onesided && d.Inverse:
		out[r-1] = 1
	case d.Onesided:
		out[axis] = n/2 + 1
	}
	return out, n, nil
}

func (d *DFT) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if !x.DType.IsFloat() || x.DType.Bits() < 16 {
		return nil, fmt.Errorf("DFT input must be float16, bfloat16, float32 or float64, got %s", x.DType)
	}
	axes := []int{d.Axis}
	if getIn(in, 1) != nil {
		axes = d.Axes
	}
	var out Shape
	for _, a := range axes {
		s, _, err := d.DFTShape(x.Shape, a)
		if err != nil {
			return nil, err
		}
		if out != nil && !s.Equal(out) {
			return nil, fmt.Errorf("candidate axes %v give different output shapes", axes)
		}
		out = s
	}
	if out == nil {
		return nil, NotSupportedf("the axis is computed at run time and no axis gives a static output shape")
	}
	return Types(Type{x.DType, out}), nil
}

// dftTransform computes one signal: buf holds the N complex inputs (zero
// padded, Hermitian-extended for the inverse real transform); the first
// kout outputs go to out (interleaved re, im, or re only when realOut).
func dftTransform(buf []complex128, kout int, inverse, realOut bool, out []float64) {
	n := len(buf)
	sign := -1.0
	if inverse {
		sign = 1
	}
	for k := 0; k < kout; k++ {
		var acc complex128
		for t, b := range buf {
			th := 2 * math.Pi * float64(k*t%n) / float64(n)
			acc += b * complex(math.Cos(th), sign*math.Sin(th))
		}
		if inverse {
			acc /= complex(float64(n), 0)
		}
		if realOut {
			out[k] = real(acc)
		} else {
			out[2*k], out[2*k+1] = real(acc), imag(acc)
		}
	}
}

func (d *DFT) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	axis := d.Axis
	if a := getT(in, 1); a != nil {
		axis = int(a.Int(0))
		if axis < 0 {
			axis += len(x.Shape)
		}
		if len(d.Axes) > 0 && !slices.Contains(d.Axes, axis) {
			return nil, fmt.Errorf("axis %d does not give the compiled output shape", axis)
		}
	}
	os, n, err := d.DFTShape(x.Shape, axis)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	l, cin, cout := x.Shape[axis], x.Shape[r-1], os[r-1]
	outer, inner := x.Shape[:axis].Size(), x.Shape[axis+1:r-1].Size()
	kout := os[axis]
	y := NewTensor(x.DType, os)
	buf := make([]complex128, n)
	res := make([]float64, 2*kout)
	elem := func(o, t, i int) complex128 {
		e := ((o*l+t)*inner + i) * cin
		if cin == 1 {
			return complex(x.Float(e), 0)
		}
		return complex(x.Float(e), x.Float(e+1))
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			clear(buf)
			if d.Inverse && d.Onesided {
				for k := 0; k < n; k++ {
					switch j := n - k; {
					case k <= n/2 && k < l:
						buf[k] = elem(o, k, i)
					case k > n/2 && j < l:
						v := elem(o, j, i)
						buf[k] = complex(real(v), -imag(v))
					}
				}
			} else {
				for t := 0; t < min(l, n); t++ {
					buf[t] = elem(o, t, i)
				}
			}
			dftTransform(buf, kout, d.Inverse, cout == 1, res)
			for k := 0; k < kout; k++ {
				for c := 0; c < cout; c++ {
					y.SetFloat(((o*kout+k)*inner+i)*cout+c, res[k*cout+c])
				}
			}
		}
	}
	return []*Tensor{y}, nil
}

// STFT is the short-time Fourier transform of signal [batch, length, 1|2]
// with frames frame_step apart, each weighted by the window (input 2) and
// transformed with frame_length points. Frames is the settled frame count
// when frame_step is run-time data (or -1); FrameLengths the frame lengths
// the settled output shape allows when frame_length is run-time data.
type STFT struct {
	Onesided     bool
	Frames       int
	FrameLengths []int
}

func (*STFT) OpType() string { return "STFT" }

// Geometry returns the output shape for frame length fl and the frame
// count frames (-1: from a constant step).
func (s *STFT) Geometry(x Shape, fl, step int) (Shape, error) {
	if len(x) != 3 || x[2] != 1 && x[2] != 2 {
		return nil, fmt.Errorf("signal %s must be [batch, length, 1 or 2]", x)
	}
	if fl < 1 || fl > x[1] {
		return nil, fmt.Errorf("frame length %d out of range for a signal of %d samples", fl, x[1])
	}
	frames := s.Frames
	if step > 0 {
		frames = 1 + (x[1]-fl)/step
	} else if step == 0 || frames < 0 {
		return nil, fmt.Errorf("frame_step must be positive")
	}
	bins := fl
	if s.Onesided {
		bins = fl/2 + 1
	}
	return Shape{x[0], frames, bins, 2}, nil
}

// frameLengths lists the frame lengths to compile for.
func (s *STFT) frameLengths(x Shape, window, fl *Value) ([]int, error) {
	switch {
	case fl != nil && fl.Const != nil:
		return []int{int(fl.Const.Int(0))}, nil
	case fl != nil:
		if len(s.FrameLengths) == 0 {
			return nil, NotSupportedf("frame_length is computed at run time and the model declares no static output shape")
		}
		return s.FrameLengths, nil
	case window != nil:
		return []int{window.Type.Shape[0]}, nil
	}
	return []int{x[1]}, nil
}

func (s *STFT) Infer(in []*Value) ([]Type, error) {
	x, step, window, fl := in[0].Type, in[1], getIn(in, 2), getIn(in, 3)
	if !x.DType.IsFloat() || x.DType.Bits() < 16 {
		return nil, fmt.Errorf("STFT signal must be a float tensor, got %s", x.DType)
	}
	for _, v := range []*Value{step, fl} {
		if v != nil && (!v.Type.DType.IsInt() || v.Type.Shape.Size() != 1) {
			return nil, fmt.Errorf("frame_step and frame_length must be integer scalars, got %s", v.Type)
		}
	}
	if window != nil && (window.Type.DType != x.DType || len(window.Type.Shape) != 1) {
		return nil, fmt.Errorf("window must be a 1-D %s tensor, got %s", x.DType, window.Type)
	}
	st := -1
	if step.Const != nil {
		st = int(step.Const.Int(0))
	} else if s.Frames < 0 {
		return nil, NotSupportedf("frame_step is computed at run time and the model declares no static output shape")
	}
	fls, err := s.frameLengths(x.Shape, window, fl)
	if err != nil {
		return nil, err
	}
	var out Shape
	for _, l := range fls {
		o, err := s.Geometry(x.Shape, l, st)
		if err != nil {
			return nil, err
		}
		if out != nil && !o.Equal(out) {
			return nil, fmt.Errorf("frame lengths %v give different output shapes", fls)
		}
		out = o
	}
	return Types(Type{x.DType, out}), nil
}

func (s *STFT) Eval(in []*Tensor) ([]*Tensor, error) {
	x, window, flt := in[0], getT(in, 2), getT(in, 3)
	step := int(in[1].Int(0))
	if step < 1 {
		return nil, fmt.Errorf("frame_step %d must be positive", step)
	}
	fl := x.Shape[1]
	switch {
	case flt != nil:
		fl = int(flt.Int(0))
		if len(s.FrameLengths) > 0 && !slices.Contains(s.FrameLengths, fl) {
			return nil, fmt.Errorf("frame_length %d is not one of the compiled %v", fl, s.FrameLengths)
		}
	case window != nil:
		fl = window.Shape[0]
	}
	os, err := s.Geometry(x.Shape, fl, step)
	if err != nil {
		return nil, err
	}
	if s.Frames >= 0 && os[1] != s.Frames {
		return nil, fmt.Errorf("frame_step %d gives %d frames, the output shape was settled for %d", step, os[1], s.Frames)
	}
	wlen := fl
	if window != nil {
		wlen = window.Shape[0]
	}
	l, c := x.Shape[1], x.Shape[2]
	bins := os[2]
	y := NewTensor(x.DType, os)
	buf := make([]complex128, fl)
	res := make([]float64, 2*bins)
	for b := 0; b < os[0]; b++ {
		for f := 0; f < os[1]; f++ {
			clear(buf)
			for j := 0; j < min(wlen, fl); j++ {
				p := f*step + j
				if p >= l {
					break
				}
				e := (b*l + p) * c
				v := complex(x.Float(e), 0)
				if c == 2 {
					v = complex(x.Float(e), x.Float(e+1))
				}
				if window != nil {
					v *= complex(window.Float(j), 0)
				}
				buf[j] = v
			}
			dftTransform(buf, bins, false, false, res)
			for k := 0; k < 2*bins; k++ {
				y.SetFloat((b*os[1]+f)*2*bins+k, res[k])
			}
		}
	}
	return []*Tensor{y}, nil
}

// MelWeightMatrix maps the bins of a one-sided spectrum of dft_length
// points to num_mel_bins triangular mel bands. Bins and Mels are the
// settled output shape when the size inputs are run-time data (or -1).
type MelWeightMatrix struct {
	DType      DType
	Bins, Mels int
}

func (*MelWeightMatrix) OpType() string { return "MelWeightMatrix" }

func (m *MelWeightMatrix) Infer(in []*Value) ([]Type, error) {
	if len(in) != 5 {
		return nil, fmt.Errorf("MelWeightMatrix takes 5 inputs, got %d", len(in))
	}
	for i, v := range in {
		if v == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
		want := v.Type.DType.IsInt()
		if i >= 3 {
			want = v.Type.DType.IsFloat()
		}
		if !want || v.Type.Shape.Size() != 1 {
			return nil, fmt.Errorf("input %d must be an integer (0-2) or float (3-4) scalar, got %s", i, v.Type)
		}
	}
	if in[3].Type.DType != in[4].Type.DType {
		return nil, fmt.Errorf("lower_edge_hertz is %s, upper_edge_hertz %s", in[3].Type.DType, in[4].Type.DType)
	}
	mels, bins := m.Mels, m.Bins
	if in[0].Const != nil {
		mels = int(in[0].Const.Int(0))
	}
	if in[1].Const != nil {
		bins = int(in[1].Const.Int(0))/2 + 1
	}
	if mels < 0 || bins < 1 {
		return nil, NotSupportedf("num_mel_bins and dft_length are computed at run time and the model declares no static output shape")
	}
	return Types(Type{m.DType, Shape{bins, mels}}), nil
}

// MelBins returns the num_mel_bins+2 band edges as spectrum bins, computed
// as the ONNX reference does: the mel edges in the edges' float type, the
// rest in float64.
func MelBins(mels, dftLength, sampleRate int64, lo, hi float64, dt DType) []int64 {
	r := func(v float64) float64 { return RoundTo(dt, v) }
	mel := func(hz float64) float64 { return r(2595 * r(math.Log10(r(1+r(hz/700))))) }
	loMel, hiMel := mel(lo), mel(hi)
	step := r(r(hiMel-loMel) / float64(mels+2))
	out := make([]int64, mels+2)
	for i := range out {
		f := float64(i)*step + loMel
		hz := 700 * (math.Pow(10, f/2595) - 1)
		out[i] = int64(math.Floor(float64(dftLength+1) * hz / float64(sampleRate)))
	}
	return out
}

func (m *MelWeightMatrix) Eval(in []*Tensor) ([]*Tensor, error) {
	mels, dl, sr := in[0].Int(0), in[1].Int(0), in[2].Int(0)
	bins := int(dl/2 + 1)
	if m.Mels >= 0 && int(mels) != m.Mels || m.Bins >= 0 && bins != m.Bins {
		return nil, fmt.Errorf("num_mel_bins %d and dft_length %d differ from the settled output shape [%d,%d]", mels, dl, m.Bins, m.Mels)
	}
	if mels < 0 || dl < 0 || sr == 0 {
		return nil, fmt.Errorf("num_mel_bins %d, dft_length %d and sample_rate %d must be positive", mels, dl, sr)
	}
	fb := MelBins(mels, dl, sr, in[3].Float(0), in[4].Float(0), in[3].DType)
	out := NewTensor(m.DType, Shape{bins, int(mels)})
	set := func(j int64, i int, v float64) error {
		if j < 0 || j >= int64(bins) {
			return fmt.Errorf("mel band %d reaches spectrum bin %d, outside [0, %d)", i, j, bins)
		}
		out.SetFloat(int(j)*int(mels)+i, v)
		return nil
	}
	for i := 0; i < int(mels); i++ {
		l, c, h := fb[i], fb[i+1], fb[i+2]
		if c == l {
			if err := set(c, i, 1); err != nil {
				return nil, err
			}
		} else {
			for j := l; j <= c; j++ {
				if err := set(j, i, float64(j-l)/float64(c-l)); err != nil {
					return nil, err
				}
			}
		}
		for j := c; j < h; j++ {
			if err := set(j, i, float64(h-j)/float64(h-c)); err != nil {
				return nil, err
			}
		}
	}
	return []*Tensor{out}, nil
}
