package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Net is a batched network: Forward maps batch rows of In() inputs to rows of Out()
// outputs (row-major). The native MLP and the ONNX Runtime session (forecast/ort) implement
// it. Not safe for concurrent use.
type Net interface {
	In() int
	Out() int
	Forward(dst, in []float64, batch int) error
}

// MLP is a multilayer perceptron with SiLU hidden activations and a linear output:
// a₀ = x, zₗ = aₗ₋₁Wₗ + bₗ, aₗ = silu(zₗ) (identity on the last layer). Wₗ is stored
// row-major [in][out], the layout of ONNX MatMul's second operand.
type MLP struct {
	Sizes []int       // layer widths, input first
	W     [][]float64 // per layer, Sizes[l]×Sizes[l+1]
	B     [][]float64 // per layer, Sizes[l+1]

	// workspace of the last Forward (kept for Backward)
	batch int
	z, a  [][]float64
	d     [][]float64 // backward deltas
}

// NewMLP returns an MLP with the given widths, weights drawn He-style (σ = 1/√fan-in) from
// rng and zero biases; the output layer starts small (σ/10) so an untrained drift is near 0.
func NewMLP(sizes []int, rng *rand.Rand) *MLP {
	m := &MLP{Sizes: append([]int(nil), sizes...)}
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		w := make([]float64, in*out)
		sd := 1 / math.Sqrt(float64(in))
		if l+2 == len(sizes) {
			sd /= 10
		}
		for i := range w {
			w[i] = sd * rng.NormFloat64()
		}
		m.W = append(m.W, w)
		m.B = append(m.B, make([]float64, out))
	}
	return m
}

// In implements Net.
func (m *MLP) In() int { return m.Sizes[0] }

// Out implements Net.
func (m *MLP) Out() int { return m.Sizes[len(m.Sizes)-1] }

// NumParams is the number of weights and biases.
func (m *MLP) NumParams() int {
	n := 0
	for l := range m.W {
		n += len(m.W[l]) + len(m.B[l])
	}
	return n
}

// Validate checks that the weights match the widths.
func (m *MLP) Validate() error {
	if len(m.Sizes) < 2 {
		return fmt.Errorf("forecast: mlp has %d layer widths, want at least 2", len(m.Sizes))
	}
	if len(m.W) != len(m.Sizes)-1 || len(m.B) != len(m.Sizes)-1 {
		return fmt.Errorf("forecast: mlp has %d weight and %d bias tensors for %d layers", len(m.W), len(m.B), len(m.Sizes)-1)
	}
	for l := range m.W {
		if len(m.W[l]) != m.Sizes[l]*m.Sizes[l+1] || len(m.B[l]) != m.Sizes[l+1] {
			return fmt.Errorf("forecast: mlp layer %d has %d weights and %d biases, want %d×%d and %d",
				l, len(m.W[l]), len(m.B[l]), m.Sizes[l], m.Sizes[l+1], m.Sizes[l+1])
		}
		for _, v := range m.W[l] {
			if !finite(v) {
				return fmt.Errorf("forecast: mlp layer %d has a non-finite weight", l)
			}
		}
	}
	return nil
}

func (m *MLP) ensure(batch int) {
	if m.batch >= batch && len(m.z) == len(m.W) {
		return
	}
	m.batch = batch
	m.z = make([][]float64, len(m.W))
	m.a = make([][]float64, len(m.W))
	m.d = make([][]float64, len(m.W))
	for l := range m.W {
		m.z[l] = make([]float64, batch*m.Sizes[l+1])
		m.a[l] = make([]float64, batch*m.Sizes[l+1])
		m.d[l] = make([]float64, batch*m.Sizes[l+1])
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Forward implements Net. It keeps the activations for Backward; after the first call at a
// batch size it does not allocate.
func (m *MLP) Forward(dst, in []float64, batch int) error {
	if len(in) < batch*m.In() || len(dst) < batch*m.Out() {
		return fmt.Errorf("forecast: mlp forward: %d inputs and %d outputs for a batch of %d, want %d and %d",
			len(in), len(dst), batch, batch*m.In(), batch*m.Out())
	}
	m.ensure(batch)
	x := in[:batch*m.In()]
	last := len(m.W) - 1
	for l := range m.W {
		ni, no := m.Sizes[l], m.Sizes[l+1]
		z := m.z[l][:batch*no]
		for r := 0; r < batch; r++ {
			copy(z[r*no:(r+1)*no], m.B[l])
		}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: batch, Cols: ni, Stride: ni, Data: x},
			blas64.General{Rows: ni, Cols: no, Stride: no, Data: m.W[l]},
			1, blas64.General{Rows: batch, Cols: no, Stride: no, Data: z})
		a := m.a[l][:batch*no]
		if l == last {
			copy(a, z)
		} else {
			for i, v := range z {
				a[i] = v * sigmoid(v)
			}
		}
		x = a
	}
	copy(dst, x)
	return nil
}

// Grads holds gradients shaped like an MLP's parameters.
type Grads struct {
	W, B [][]float64
}

// NewGrads returns zero gradients for m.
func (m *MLP) NewGrads() *Grads {
	g := &Grads{}
	for l := range m.W {
		g.W = append(g.W, make([]float64, len(m.W[l])))
		g.B = append(g.B, make([]float64, len(m.B[l])))
	}
	return g
}

// Backward writes into g the exact gradient of Σ dOut·y with respect to the parameters,
// for the last Forward on input in (dOut is batch×Out, overwritten as scratch).
func (m *MLP) Backward(in, dOut []float64, batch int, g *Grads) {
	delta := dOut[:batch*m.Out()]
	for l := len(m.W) - 1; l >= 0; l-- {
		ni, no := m.Sizes[l], m.Sizes[l+1]
		if l < len(m.W)-1 {
			// through the SiLU: d/dz z·σ(z) = σ(z)(1 + z(1−σ(z)))
			z := m.z[l][:batch*no]
			for i, v := range z {
				s := sigmoid(v)
				delta[i] *= s * (1 + v*(1-s))
			}
		}
		var x []float64
		if l > 0 {
			x = m.a[l-1][:batch*ni]
		} else {
			x = in[:batch*ni]
		}
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: batch, Cols: ni, Stride: ni, Data: x},
			blas64.General{Rows: batch, Cols: no, Stride: no, Data: delta},
			0, blas64.General{Rows: ni, Cols: no, Stride: no, Data: g.W[l]})
		gb := g.B[l]
		for j := range gb {
			gb[j] = 0
		}
		for r := 0; r < batch; r++ {
			for j := 0; j < no; j++ {
				gb[j] += delta[r*no+j]
			}
		}
		if l > 0 {
			prev := m.d[l-1][:batch*ni]
			blas64.Gemm(blas.NoTrans, blas.Trans, 1,
				blas64.General{Rows: batch, Cols: no, Stride: no, Data: delta},
				blas64.General{Rows: ni, Cols: no, Stride: no, Data: m.W[l]},
				0, blas64.General{Rows: batch, Cols: ni, Stride: ni, Data: prev})
			delta = prev
		}
	}
}

// Adam is the Adam optimiser (Kingma & Ba) over an MLP's parameters.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	T                     int
	MW, VW, MB, VB        [][]float64
}

// NewAdam returns Adam state for m with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
func NewAdam(m *MLP, lr float64) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for l := range m.W {
		a.MW = append(a.MW, make([]float64, len(m.W[l])))
		a.VW = append(a.VW, make([]float64, len(m.W[l])))
		a.MB = append(a.MB, make([]float64, len(m.B[l])))
		a.VB = append(a.VB, make([]float64, len(m.B[l])))
	}
	return a
}

// Step applies one update with gradient g at learning rate lr.
func (a *Adam) Step(m *MLP, g *Grads, lr float64) {
	a.T++
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	upd := func(p, gr, mm, vv []float64) {
		for i := range p {
			mm[i] = a.Beta1*mm[i] + (1-a.Beta1)*gr[i]
			vv[i] = a.Beta2*vv[i] + (1-a.Beta2)*gr[i]*gr[i]
			p[i] -= lr * (mm[i] / c1) / (math.Sqrt(vv[i]/c2) + a.Eps)
		}
	}
	for l := range m.W {
		upd(m.W[l], g.W[l], a.MW[l], a.VW[l])
		upd(m.B[l], g.B[l], a.MB[l], a.VB[l])
	}
}

// RoundToFloat32 rounds every parameter to float32 precision: what ONNX stores, so the
// native forward of a loaded model is the exported network's.
func (m *MLP) RoundToFloat32() {
	for l := range m.W {
		for i, v := range m.W[l] {
			m.W[l][i] = float64(float32(v))
		}
		for i, v := range m.B[l] {
			m.B[l][i] = float64(float32(v))
		}
	}
}

// Clone returns a deep copy of the parameters (no workspace).
func (m *MLP) Clone() *MLP {
	c := &MLP{Sizes: append([]int(nil), m.Sizes...)}
	for l := range m.W {
		c.W = append(c.W, append([]float64(nil), m.W[l]...))
		c.B = append(c.B, append([]float64(nil), m.B[l]...))
	}
	return c
}
