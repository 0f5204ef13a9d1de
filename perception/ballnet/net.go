package ballnet

import (
	"fmt"
	"math"
	"math/rand/v2"
)

const (
	// Size is the crop side, px.
	Size = 16
	// Channels is the crop's colour planes (B, G, R).
	Channels = 3
	// In is the values per crop.
	In = Channels * Size * Size
	// CropScale is the crop's side in blob radii: the blob and a ring of
	// its surroundings as wide as its radius on each side.
	CropScale = 4.0
)

// Feature-map sides after the first and second stride-2 convolutions.
const (
	side1 = Size / 2
	side2 = Size / 4
)

// Net is the classifier's weights. P holds every parameter, float64, in
// the order W1 [C1][3][3][3], B1 [C1], W2 [C2][C1][3][3], B2 [C2],
// W3 [C2·side2²] (flattened channel-major, as ONNX Flatten orders it), B3.
// Not safe for concurrent use (Logit keeps its activations).
type Net struct {
	C1, C2 int
	P      []float64
	w      work
}

// layout is where each tensor starts in P.
type layout struct{ w1, b1, w2, b2, w3, b3, n int }

func (n *Net) lay() layout {
	var l layout
	l.w1 = 0
	l.b1 = l.w1 + n.C1*Channels*9
	l.w2 = l.b1 + n.C1
	l.b2 = l.w2 + n.C2*n.C1*9
	l.w3 = l.b2 + n.C2
	l.b3 = l.w3 + n.C2*side2*side2
	l.n = l.b3 + 1
	return l
}

// work holds one sample's activations and gradients.
type work struct {
	x              []float64
	z1, a1, z2, a2 []float64
	d1, d2         []float64
}

// New returns a network with c1 and c2 channels, weights drawn
// He-style (σ = √(2/fan-in)) from rng, zero biases.
func New(c1, c2 int, rng *rand.Rand) (*Net, error) {
	if c1 < 1 || c1 > 64 || c2 < 1 || c2 > 64 {
		return nil, fmt.Errorf("ballnet: channels %d, %d, want 1..64 each", c1, c2)
	}
	n := &Net{C1: c1, C2: c2}
	l := n.lay()
	n.P = make([]float64, l.n)
	fill := func(from, to, fanIn int) {
		sd := math.Sqrt(2 / float64(fanIn))
		for i := from; i < to; i++ {
			n.P[i] = sd * rng.NormFloat64()
		}
	}
	fill(l.w1, l.b1, Channels*9)
	fill(l.w2, l.b2, c1*9)
	fill(l.w3, l.b3, c2*side2*side2)
	return n, nil
}

// Validate checks that P matches the channel counts and is finite.
func (n *Net) Validate() error {
	if n.C1 < 1 || n.C1 > 64 || n.C2 < 1 || n.C2 > 64 {
		return fmt.Errorf("ballnet: channels %d, %d, want 1..64 each", n.C1, n.C2)
	}
	if l := n.lay(); len(n.P) != l.n {
		return fmt.Errorf("ballnet: %d parameters, want %d for channels %d, %d", len(n.P), l.n, n.C1, n.C2)
	}
	for i, v := range n.P {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("ballnet: parameter %d is %v", i, v)
		}
	}
	return nil
}

func (n *Net) ensure() {
	if len(n.w.z1) == n.C1*side1*side1 && len(n.w.z2) == n.C2*side2*side2 {
		return
	}
	n.w = work{
		x:  make([]float64, In),
		z1: make([]float64, n.C1*side1*side1), a1: make([]float64, n.C1*side1*side1),
		z2: make([]float64, n.C2*side2*side2), a2: make([]float64, n.C2*side2*side2),
		d1: make([]float64, n.C1*side1*side1), d2: make([]float64, n.C2*side2*side2),
	}
}

// Logit returns the network's logit for one crop (In values, the layout
// of the package doc). It does not allocate after the first call.
func (n *Net) Logit(crop []float32) float64 {
	n.ensure()
	for i, v := range crop[:In] {
		n.w.x[i] = float64(v)
	}
	return n.forward()
}

func (n *Net) forward() float64 {
	l := n.lay()
	w := &n.w
	conv(w.z1, w.x, n.P[l.w1:l.b1], n.P[l.b1:l.w2], Channels, n.C1, Size, side1)
	silu(w.a1, w.z1)
	conv(w.z2, w.a1, n.P[l.w2:l.b2], n.P[l.b2:l.w3], n.C1, n.C2, side1, side2)
	silu(w.a2, w.z2)
	z := n.P[l.b3]
	for i, v := range w.a2 {
		z += n.P[l.w3+i] * v
	}
	return z
}

// backward adds the gradient of the loss to g, given dz = ∂loss/∂logit of
// the sample forward last ran on.
func (n *Net) backward(dz float64, g []float64) {
	l := n.lay()
	w := &n.w
	g[l.b3] += dz
	for i, v := range w.a2 {
		g[l.w3+i] += dz * v
		w.d2[i] = dz * n.P[l.w3+i] * dsilu(w.z2[i])
	}
	clear(w.d1)
	convBack(w.d1, g[l.w2:l.b2], g[l.b2:l.w3], w.d2, w.a1, n.P[l.w2:l.b2], n.C1, n.C2, side1, side2)
	for i := range w.d1 {
		w.d1[i] *= dsilu(w.z1[i])
	}
	convBack(nil, g[l.w1:l.b1], g[l.b1:l.w2], w.d1, w.x, n.P[l.w1:l.b1], Channels, n.C1, Size, side1)
}

// conv is a 3×3 convolution, stride 2, zero padding 1 (ONNX Conv with
// pads 1 and strides 2): in is cin planes of hin², dst cout planes of
// hout², w [cout][cin][3][3].
func conv(dst, in, w, b []float64, cin, cout, hin, hout int) {
	for o := 0; o < cout; o++ {
		for y := 0; y < hout; y++ {
			for x := 0; x < hout; x++ {
				s := b[o]
				for c := 0; c < cin; c++ {
					wk := w[(o*cin+c)*9:]
					pl := in[c*hin*hin:]
					for ky := 0; ky < 3; ky++ {
						iy := 2*y + ky - 1
						if iy < 0 || iy >= hin {
							continue
						}
						for kx := 0; kx < 3; kx++ {
							ix := 2*x + kx - 1
							if ix < 0 || ix >= hin {
								continue
							}
							s += wk[ky*3+kx] * pl[iy*hin+ix]
						}
					}
				}
				dst[(o*hout+y)*hout+x] = s
			}
		}
	}
}

// convBack adds conv's gradients: dw and db from dout and in, and din
// (when not nil) from dout and w.
func convBack(din, dw, db, dout, in, w []float64, cin, cout, hin, hout int) {
	for o := 0; o < cout; o++ {
		for y := 0; y < hout; y++ {
			for x := 0; x < hout; x++ {
				g := dout[(o*hout+y)*hout+x]
				if g == 0 {
					continue
				}
				db[o] += g
				for c := 0; c < cin; c++ {
					k := (o*cin + c) * 9
					pl := c * hin * hin
					for ky := 0; ky < 3; ky++ {
						iy := 2*y + ky - 1
						if iy < 0 || iy >= hin {
							continue
						}
						for kx := 0; kx < 3; kx++ {
							ix := 2*x + kx - 1
							if ix < 0 || ix >= hin {
								continue
							}
							dw[k+ky*3+kx] += g * in[pl+iy*hin+ix]
							if din != nil {
								din[pl+iy*hin+ix] += g * w[k+ky*3+kx]
							}
						}
					}
				}
			}
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func silu(dst, z []float64) {
	for i, v := range z {
		dst[i] = v * sigmoid(v)
	}
}

// dsilu is d/dz of z·σ(z).
func dsilu(z float64) float64 {
	s := sigmoid(z)
	return s * (1 + z*(1-s))
}

// RoundToFloat32 rounds every parameter to float32, the precision of the
// ONNX export, so that Logit and ONNX Runtime agree to float32 rounding.
func (n *Net) RoundToFloat32() {
	for i, v := range n.P {
		n.P[i] = float64(float32(v))
	}
}
