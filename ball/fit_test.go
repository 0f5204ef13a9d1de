package ball

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// simTracks flies n table-tennis-like flights of props with random spins and observes them
// at 180 Hz with σ mm of noise, stamps rounded to 1 µs.
func simTracks(props Props, n int, sigma float64, seed uint64) []Track {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out []Track
	for i := 0; i < n; i++ {
		s := State{
			P: Vec{0.3 * rng.NormFloat64(), 3, 1.3},
			V: Vec{0.4 * rng.NormFloat64(), -4 - rng.Float64(), 1 + rng.Float64()},
			W: Vec{-150 + 60*rng.NormFloat64(), 30 * rng.NormFloat64(), 30 * rng.NormFloat64()},
		}
		var tr Track
		const dt = 1.0 / 180
		for k := 0; k < 70; k++ { // 0.39 s
			t := math.Round(float64(k)*dt*1e6) / 1e6
			tr.T = append(tr.T, t)
			tr.P = append(tr.P, Vec{s.P[0] + sigma*rng.NormFloat64(), s.P[1] + sigma*rng.NormFloat64(), s.P[2] + sigma*rng.NormFloat64()})
			s2 := s
			props.Propagate(&s2, dt, 0)
			s = s2
		}
		out = append(out, tr)
	}
	return out
}

// The fit recovers known coefficients (and g) from noisy simulated flights, starting from
// other values, and its stated uncertainty covers the error.
func TestFitRecoversCoefficients(t *testing.T) {
	truth, err := ByName("table-tennis")
	require.NoError(t, err)
	truth.Cd, truth.Gravity = 0.55, 9.6
	tracks := simTracks(truth, 30, 1e-3, 1)
	base, _ := ByName("table-tennis")
	res, err := Fit(base, tracks, FitConfig{})
	require.NoError(t, err)
	// 3σ of the stated uncertainty, plus a floor for the 2 ms integration step
	require.InDelta(t, truth.Cd, res.Props.Cd, 3*res.CdStd+0.005, "Cd ± %g", res.CdStd)
	require.InDelta(t, truth.Gravity, res.Props.Gravity, 3*res.GStd+0.01, "g ± %g", res.GStd)
	require.Less(t, res.CdStd, 0.05)
	require.InDelta(t, 1e-3, res.RMS, 1e-4) // the noise, less the fitted degrees of freedom
	require.Len(t, res.Tracks, 30)
	require.Equal(t, 0, res.Dropped)

	// the per-flight spin across the velocity is found: the topspin of the first flight
	rng := rand.New(rand.NewPCG(1, 3))
	rng.NormFloat64()
	rng.NormFloat64()
	rng.Float64()
	rng.Float64()
	wx := -150 + 60*rng.NormFloat64()
	require.InDelta(t, wx, res.Tracks[0].Init.W[0], 0.15*math.Abs(wx))

	// residuals of the fitted set on other flights: at the noise level; of the base set: more
	other := simTracks(truth, 10, 1e-3, 2)
	for _, f := range Residuals(res.Props, other, FitConfig{}) {
		require.Less(t, f.RMS, 1.3e-3)
	}
	var worse float64
	for _, f := range Residuals(base, other, FitConfig{}) {
		worse += f.RMS / 10
	}
	require.Greater(t, worse, 1.4e-3)
}

// Outliers (tracker glitches) are gated out and counted, and do not move the fit.
func TestFitGatesOutliers(t *testing.T) {
	truth, _ := ByName("table-tennis")
	tracks := simTracks(truth, 12, 1e-3, 4)
	for i := range tracks {
		tracks[i].P[20][2] += 0.05
		tracks[i].P[45][0] -= 0.04
	}
	res, err := Fit(truth, tracks, FitConfig{})
	require.NoError(t, err)
	require.Equal(t, 24, res.Dropped)
	require.InDelta(t, truth.Cd, res.Props.Cd, 3*res.CdStd+0.005)
	require.InDelta(t, 1e-3, res.RMS, 1.5e-4)

	_, err = Fit(truth, tracks[:1], FitConfig{})
	require.ErrorContains(t, err, "want ≥ 2")
}

func TestHeadingSpin(t *testing.T) {
	v := Vec{0, -4, 1} // flying along −y
	w := Vec{-100, 0, 5}
	h := HeadingSpin(v, w)
	// x′ = −y, y′ = z × x′ = +x: spin about −x is about −y′ (topspin for a ball along +x′)
	require.InDeltaSlice(t, []float64{0, -100, 5}, h[:], 1e-12)
	back := WorldSpin(v, h)
	require.InDeltaSlice(t, w[:], back[:], 1e-12)
}
