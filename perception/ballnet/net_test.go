package ballnet

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// toyCrops makes a separable set: "balls" are a bright yellow disc on a
// random background, "others" a yellow bar of the same area.
func toyCrops(n int, rng *rand.Rand) *Samples {
	s := &Samples{}
	crop := make([]float32, In)
	for k := 0; k < n; k++ {
		ball := k%2 == 0
		bg := [3]float32{float32(rng.Float64() - 0.5), float32(rng.Float64() - 0.5), float32(rng.Float64() - 0.5)}
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				dx, dy := float64(x)-7.5, float64(y)-7.5
				in := dx*dx+dy*dy < 16
				if !ball {
					in = math.Abs(dy) < 1.6 && math.Abs(dx) < 7.9
				}
				for c := 0; c < 3; c++ {
					v := bg[c]
					if in {
						v = [3]float32{-0.3, 0.38, 0.3}[c]
					}
					crop[c*Size*Size+y*Size+x] = v + float32(0.02*rng.NormFloat64())
				}
			}
		}
		y := float32(0)
		if ball {
			y = 1
		}
		s.Add(crop, y)
	}
	return s
}

// TestGradient compares backward with central differences of the loss
// on one crop (float64 throughout: agreement to 1e-5 relative).
func TestGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, err := New(3, 4, rng)
	require.NoError(t, err)
	s := toyCrops(2, rng)
	x := s.X[:In]
	g := make([]float64, len(n.P))
	z := n.Logit(x)
	n.backward(1, g) // ∂logit/∂θ
	_ = z
	for _, i := range []int{0, 5, n.lay().b1, n.lay().w2 + 7, n.lay().b2 + 1, n.lay().w3 + 3, n.lay().b3} {
		p := n.P[i]
		const h = 1e-6
		n.P[i] = p + h
		zp := n.Logit(x)
		n.P[i] = p - h
		zm := n.Logit(x)
		n.P[i] = p
		num := (zp - zm) / (2 * h)
		require.InDelta(t, num, g[i], 1e-5*math.Max(1, math.Abs(num)), "parameter %d", i)
	}
}

// TestTrainSeparatesAndReproduces: the toy set is learned, and the same
// seed gives the same bytes while another seed does not.
func TestTrainSeparatesAndReproduces(t *testing.T) {
	s := toyCrops(200, rand.New(rand.NewPCG(1, 2)))
	cfg := TrainConfig{C1: 4, C2: 8, Epochs: 8, Batch: 16, Seed: 5}
	n1, rep, err := Train(s, cfg, nil)
	require.NoError(t, err)
	require.Greater(t, rep.BallAcc, 0.95)
	require.Greater(t, rep.OtherAcc, 0.95)
	require.Less(t, rep.EpochLoss[len(rep.EpochLoss)-1], rep.EpochLoss[0])
	b1, err := n1.ONNX("meta")
	require.NoError(t, err)
	n2, _, err := Train(s, cfg, nil)
	require.NoError(t, err)
	b2, err := n2.ONNX("meta")
	require.NoError(t, err)
	require.True(t, bytes.Equal(b1, b2), "same seed, different model bytes")
	cfg.Seed = 6
	n3, _, err := Train(s, cfg, nil)
	require.NoError(t, err)
	b3, err := n3.ONNX("meta")
	require.NoError(t, err)
	require.False(t, bytes.Equal(b1, b3))
	m, err := Meta(b1)
	require.NoError(t, err)
	require.Equal(t, "meta", m)
}

func TestSeparation(t *testing.T) {
	pa, na, auc := Separation([]float64{0.9, 0.6, 0.4}, []float64{0.1, 0.4, 0.7})
	require.InDelta(t, 2.0/3, pa, 1e-12)
	require.InDelta(t, 2.0/3, na, 1e-12)
	// Pairs won: 0.9 beats 3; 0.6 beats 2; 0.4 beats 1 and ties 1: 6.5 of 9.
	require.InDelta(t, 6.5/9, auc, 1e-12)
}

func TestValidateErrors(t *testing.T) {
	require.Error(t, (&Samples{X: make([]float32, In), Y: []float32{1}}).Validate()) // one class only
	require.Error(t, (&Samples{X: make([]float32, 3), Y: []float32{1}}).Validate())
	require.Error(t, TrainConfig{LR: 2}.Validate())
	require.Error(t, TrainConfig{C1: 100}.Validate())
	_, err := New(0, 4, rand.New(rand.NewPCG(1, 1)))
	require.Error(t, err)
}
