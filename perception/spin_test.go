package perception

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
)

// TestSpinFit feeds exact states of a spinning foam ball without the spin
// (as from an estimator that does not estimate it) every 8 ms: the fitted
// spin reproduces the Magnus acceleration across the velocity within 15%
// (the fit differences velocities over 0.1 s and smooths; the true spin
// also has a component along the velocity, which has no effect and no fit).
func TestSpinFit(t *testing.T) {
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	st := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.3, 3}, W: ball.Vec{0, 60, 80}}
	var fit SpinFit
	var w ball.Vec
	for k := 0; k < 60; k++ {
		tt := float64(k) * 0.008
		est := ball.Estimate{Valid: true, T: tt, State: ball.State{P: st.P, V: st.V}, NObs: k + 1}
		w = fit.Add(&est, &props)
		props.Propagate(&st, 0.008, 0)
	}
	_, kl, _ := props.Coeffs()
	want := cross(st.W, st.V)
	got := cross(w, st.V)
	var e, n float64
	for i := 0; i < 3; i++ {
		e += (got[i] - want[i]) * (got[i] - want[i])
		n += want[i] * want[i]
	}
	require.Positive(t, kl)
	require.Less(t, math.Sqrt(e/n), 0.15, "lift from fit %v, true %v", got, want)
}

func cross(a, b ball.Vec) ball.Vec {
	return ball.Vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// launcherPrior is a SpinPrior that knows a launcher's spin up to σ.
type launcherPrior struct {
	w     ball.Vec
	sigma float64
	calls int
}

func (l *launcherPrior) Spin(p, v ball.Vec, mean *ball.Vec, cov *[9]float64) {
	l.calls++
	*mean = l.w
	*cov = [9]float64{l.sigma * l.sigma, 0, 0, 0, l.sigma * l.sigma, 0, 0, 0, l.sigma * l.sigma}
}

// A learned spin prior (EstimatorConfig.SpinPrior) starts the track's spin at its mean
// with its covariance, once per track; after 0.08 s of a foam ball spun at 80 rad/s the
// 0.3 s forecast of a filter given the launcher's spin (±5 rad/s) is better than with the
// flat 60 rad/s prior on most throws and in the median.
func TestEstimatorSpinPrior(t *testing.T) {
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(21, 22))
	w := ball.Vec{0, 60, 50}
	var errPrior, errFlat []float64
	better := 0
	for range 30 {
		s0 := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.2 * rng.NormFloat64(), 4.8}, W: w}
		f := simulate(rng, props, s0, 10, noise) // 0.08 s
		var d [2]float64
		for i, prior := range []ball.SpinPrior{&launcherPrior{w: w, sigma: 5}, nil} {
			e, err := NewEstimator(EstimatorConfig{EstimateSpin: true, SpinPrior: prior}, props)
			require.NoError(t, err)
			for j := range f.t {
				e.Observe(f.t[j], f.obs[j])
				if j == DefaultMinObs-1 && prior != nil {
					// the track has just started: the spin is the prior's
					var est ball.Estimate
					e.Estimate(f.t[j], &est)
					for k := 0; k < 3; k++ {
						require.InDelta(t, w[k], est.State.W[k], 1e-9)
						require.InDelta(t, 25, est.CovW[k*3+k], 1e-6)
					}
				}
			}
			if lp, ok := prior.(*launcherPrior); ok {
				require.Equal(t, 1, lp.calls, "once per track")
			}
			last := len(f.t) - 1
			var est ball.Estimate
			e.Estimate(f.t[last]+0.3, &est)
			truth := f.truth[last]
			props.Propagate(&truth, 0.3, 0)
			d[i] = dist(est.State.P, truth.P)
		}
		errPrior, errFlat = append(errPrior, d[0]), append(errFlat, d[1])
		if d[0] < d[1] {
			better++
		}
	}
	t.Logf("0.3 s forecast error after 0.08 s: median %.1f mm with the launcher's spin, %.1f mm with the flat prior; better on %d of 30",
		1e3*quantile(errPrior, 0.5), 1e3*quantile(errFlat, 0.5), better)
	require.Greater(t, better, 20)
	require.Less(t, quantile(errPrior, 0.5), 0.7*quantile(errFlat, 0.5))
}
