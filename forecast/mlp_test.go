package forecast

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The analytic gradient of the square loss matches central finite differences for every
// parameter of a small two-hidden-layer MLP.
func TestMLPGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := NewMLP([]int{5, 7, 6, 3}, rng)
	// Larger output weights than the initialisation's, so every layer's gradient is sizeable.
	for i := range m.W[2] {
		m.W[2][i] *= 10
	}
	const batch = 4
	in := make([]float64, batch*5)
	tgt := make([]float64, batch*3)
	for i := range in {
		in[i] = rng.NormFloat64()
	}
	for i := range tgt {
		tgt[i] = rng.NormFloat64()
	}
	out := make([]float64, batch*3)
	loss := func() float64 {
		require.NoError(t, m.Forward(out, in, batch))
		var l float64
		for i := range out {
			e := out[i] - tgt[i]
			l += e * e
		}
		return l
	}
	loss()
	dOut := make([]float64, len(out))
	for i := range out {
		dOut[i] = 2 * (out[i] - tgt[i])
	}
	g := m.NewGrads()
	m.Backward(in, dOut, batch, g)
	const h = 1e-6
	check := func(name string, p, gr []float64) {
		for i := range p {
			old := p[i]
			p[i] = old + h
			lp := loss()
			p[i] = old - h
			lm := loss()
			p[i] = old
			fd := (lp - lm) / (2 * h)
			// Central differences: truncation O(h²) ≈ 1e-12 and rounding ≈ 1e-16·|l|/h ≈ 1e-9.
			require.InDelta(t, fd, gr[i], 1e-6*math.Max(1, math.Abs(fd)), "%s[%d]", name, i)
		}
	}
	for l := range m.W {
		check("W"+string(rune('0'+l)), m.W[l], g.W[l])
		check("B"+string(rune('0'+l)), m.B[l], g.B[l])
	}
}

func TestAdamFitsLinearMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := NewMLP([]int{2, 16, 1}, rng)
	opt := NewAdam(m, 1e-2)
	g := m.NewGrads()
	in := make([]float64, 64*2)
	out := make([]float64, 64)
	var last float64
	for step := 0; step < 1500; step++ {
		for i := range in {
			in[i] = 2*rng.Float64() - 1
		}
		require.NoError(t, m.Forward(out, in, 64))
		last = 0
		for r := 0; r < 64; r++ {
			e := out[r] - (in[2*r] - 0.5*in[2*r+1])
			last += e * e / 64
			out[r] = 2 * e / 64
		}
		m.Backward(in, out, 64, g)
		opt.Step(m, g, 1e-2)
	}
	// y = x₀ − ½x₁ has variance ≈ 0.42 on the square; 1e-3 is a >400× reduction.
	require.Less(t, last, 1e-3)
}
