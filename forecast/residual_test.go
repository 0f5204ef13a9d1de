package forecast

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
)

// exactTracker knows the flight: its estimate is the true state at Now, spin included.
type exactTracker struct {
	props ball.Props
	s0    ball.State // at t = 0
	n     int
}

func (e *exactTracker) Reset()                               { e.n = 0 }
func (e *exactTracker) Observe(t float64, p [3]float64) bool { e.n++; return true }
func (e *exactTracker) Estimate(now float64, dst *ball.Estimate) {
	s := e.s0
	stepTo(&e.props, &s, 0, now)
	*dst = ball.Estimate{Valid: e.n >= 3, T: now, State: s, NObs: e.n}
	for k := 0; k < 3; k++ {
		dst.Cov[k*6+k] = 4e-6 // 2 mm
	}
}

// The residual model's reference is the estimate flown on: with an exact estimate the
// dataset's residuals vanish and an untrained model's samples stay within O(scale) of the
// true flight; the condition carries the estimate's Magnus acceleration and position σ;
// without a valid estimate there is no forecast.
func TestResidualForecast(t *testing.T) {
	m := tinyModel(t, true)
	props := m.Meta.Ball
	s0 := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.3, 3.8}, W: ball.Vec{0, 60, 30}}
	fl := Flight{Name: "f.csv:0"}
	s := s0
	for i := 0; i < 120; i++ {
		fl.T = append(fl.T, float64(i)*0.008)
		fl.P = append(fl.P, s.P)
		props.Step(&s, 0.008)
	}
	wc := WindowConfig{Horizons: m.Meta.Horizons}
	ws := FlightWindows([]Flight{fl}, 0, 0.05, 0.3, wc)
	require.NotEmpty(t, ws)
	tr := &exactTracker{props: props, s0: s0}
	ds, skipped := ResidualDataset(&props, tr, ws, wc)
	require.Zero(t, skipped)
	require.Equal(t, len(ws), ds.Len())
	for i, r := range ds.Res {
		if !math.IsNaN(r) {
			require.InDelta(t, 0, r, 1e-4, "residual %d", i) // the truth is the flight sampled at 8 ms, linearly interpolated
		}
	}
	// the condition: speeds, the Magnus acceleration across the velocity, span, σ
	c := ds.Cond[:CondDim]
	_, kl, _ := props.Coeffs()
	require.Greater(t, math.Abs(c[3])+math.Abs(c[4]), 0.5*kl*60*4)
	require.InDelta(t, 1000*math.Sqrt(3*4e-6), c[8], 1e-9)
	require.InDelta(t, ws[0].Now-fl.T[0], c[5], 1e-12)

	it, err := NewInterpolant(m, nil, nil, SamplerConfig{})
	require.NoError(t, err)
	f := NewResidual(it)
	w := ws[0]
	var est ball.Estimate
	tr.Reset()
	for _, o := range w.History {
		tr.Observe(o.T, o.P)
	}
	tr.Estimate(w.Now, &est)
	in := Input{Now: w.Now, History: w.History, Estimate: &est}
	buf := NewBuffer(m.Meta.Horizons.Dt, m.Meta.Horizons.H, 32)
	rng := rand.New(rand.NewPCG(3, 3))
	require.NoError(t, f.Forecast(&in, rng, &buf))
	d := m.Meta.D()
	for i, v := range buf.Pos {
		if !math.IsNaN(w.Truth[i%d]) {
			require.InDelta(t, w.Truth[i%d], v, 0.2) // an untrained net: O(scale) = O(1 cm) per unit of z
		}
	}
	allocs := testing.AllocsPerRun(10, func() { _ = f.Forecast(&in, rng, &buf) })
	require.Zero(t, allocs)
	require.ErrorIs(t, f.Forecast(&Input{Now: w.Now, History: w.History}, rng, &buf), ErrNoCondition)
}
