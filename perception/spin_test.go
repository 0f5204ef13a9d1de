package perception

import (
	"math"
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
