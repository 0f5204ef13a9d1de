package forecast

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception"
)

// recordedLike generates table-tennis flights as a tracker records them: spins of σ 30
// rad/s per axis, 2 mm noise at 180 Hz, stamps rounded to 1 ms (up to 2.5 mm of timing
// error at 5 m/s), 2% outliers of 5 cm, 1% repeated stamps and a few 30 ms gaps.
func recordedLike(props ball.Props, n int, seed uint64) []Flight {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []Flight
	for i := 0; i < n; i++ {
		s := ball.State{
			P: ball.Vec{0.3 * rng.NormFloat64(), 3, 1.3},
			V: ball.Vec{0.5 * rng.NormFloat64(), -4 - 1.5*rng.Float64(), 0.5 + 1.5*rng.Float64()},
			W: ball.Vec{30 * rng.NormFloat64(), 30 * rng.NormFloat64(), 30 * rng.NormFloat64()},
		}
		var ts []float64
		var ps []ball.Vec
		const dt = 1.0 / 180
		tt := 0.0
		for k := 0; k < 140; k++ { // 0.78 s
			if rng.Float64() < 0.01 { // a 30 ms gap
				for j := 0; j < 5; j++ {
					props.Propagate(&s, dt, 0)
					tt += dt
				}
			}
			p := ball.Vec{s.P[0] + 0.002*rng.NormFloat64(), s.P[1] + 0.002*rng.NormFloat64(), s.P[2] + 0.002*rng.NormFloat64()}
			if rng.Float64() < 0.02 {
				p[rng.IntN(3)] += 0.05
			}
			stamp := math.Round(tt*1000) / 1000
			if rng.Float64() < 0.01 && len(ts) > 0 {
				stamp = ts[len(ts)-1]
			}
			ts, ps = append(ts, stamp), append(ps, p)
			props.Propagate(&s, dt, 0)
			tt += dt
		}
		t, p, _, _ := cleanStamps(ts, ps)
		out = append(out, Flight{Name: "g" + itoa(int64(i)), T: t, P: p})
	}
	return out
}

// The spin-tracking estimator with the physics sampler is calibrated on flights with spin,
// timing errors, outliers, repeated stamps and gaps: its central 90% intervals 0.3 s ahead
// cover about 90% of the truths. The spin-blind estimator with little process noise,
// judged the same way, is overconfident (which is what the test could catch).
func TestPhysicsBaselineCalibrated(t *testing.T) {
	props, err := ball.ByName("table-tennis")
	require.NoError(t, err)
	flights := recordedLike(props, 40, 1)
	windows := FlightWindows(flights, 0.001, 0.05, 0.3, WindowConfig{})
	require.Greater(t, len(windows), 150)
	eval := func(ec perception.EstimatorConfig, q float64) Scores {
		phys, err := NewPhysics(props, PhysicsConfig{ProcessNoise: q})
		require.NoError(t, err)
		est, err := perception.NewEstimator(ec, props)
		require.NoError(t, err)
		sc, err := Evaluate("physics", phys, est, windows, EvalConfig{Samples: 64, Seed: 2})
		require.NoError(t, err)
		return sc
	}
	// the estimator told the truth about the noise (2 mm and the stamps' rounding) and the
	// spins' spread; the samples carry the spin's uncertainty, no extra process noise
	cal := eval(perception.EstimatorConfig{NoiseStd: 0.0025, ProcessNoise: 0.03, EstimateSpin: true, SpinPriorStd: 30}, -1)
	// 90% of ~380 windows per axis: a binomial σ of 1.5%; 64 samples per forecast
	for k := 0; k < 3; k++ {
		require.InDelta(t, 0.9, cal.Cover90[k], 0.05, "axis %d: %v", k, cal.Cover90)
		require.InDelta(t, 0.5, cal.Cover50[k], 0.1, "axis %d: %v", k, cal.Cover50)
	}
	blind := eval(perception.EstimatorConfig{NoiseStd: 0.003, ProcessNoise: 0.01}, -1)
	require.Less(t, blind.Cov90, 0.8, "%v", blind.Cover90)
	require.Less(t, cal.EnergyScore, blind.EnergyScore)
}
