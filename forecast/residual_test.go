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
	m := tinyModelOf(t, true, CondEstimate)
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
	require.Equal(t, CondEstimate, ds.CondKind)
	c := ds.Cond[:EstimateCondDim]
	_, kl, _ := props.Coeffs()
	require.Greater(t, math.Abs(c[3])+math.Abs(c[4]), 0.5*kl*60*4)
	require.InDelta(t, 1000*math.Sqrt(3*4e-6), c[8], 1e-9)
	require.InDelta(t, ws[0].Now-fl.T[0], c[5], 1e-12)
	// the world position and velocity: the estimate's (exact here), flown to Now
	var est0 ball.Estimate
	tr.Reset()
	for _, o := range ws[0].History {
		tr.Observe(o.T, o.P)
	}
	tr.Estimate(ws[0].Now, &est0)
	for k := 0; k < 3; k++ {
		require.Equal(t, est0.State.P[k], c[9+k])
		require.Equal(t, est0.State.V[k], c[12+k])
	}

	it, err := NewInterpolant(m, nil, nil, SamplerConfig{})
	require.NoError(t, err)
	f, err := NewResidual(it)
	require.NoError(t, err)
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

// TestResidualRefusesFitModels: a model conditioned on the window fit cannot run as a
// Residual, nor a Residual's model as an Interpolant or under the guard: the conditions'
// lengths and meanings differ.
func TestResidualRefusesFitModels(t *testing.T) {
	it, err := NewInterpolant(tinyModel(t, true), nil, nil, SamplerConfig{})
	require.NoError(t, err)
	_, err = NewResidual(it)
	require.ErrorContains(t, err, CondEstimate)

	rm := tinyModelOf(t, true, CondEstimate)
	it, err = NewInterpolant(rm, nil, nil, SamplerConfig{})
	require.NoError(t, err)
	buf := NewBuffer(rm.Meta.Horizons.Dt, rm.Meta.Horizons.H, 4)
	hist := []Obs{{T: 0, P: ball.Vec{0, 0, 1}}, {T: 0.01, P: ball.Vec{0.05, 0, 1.03}}, {T: 0.02, P: ball.Vec{0.1, 0, 1.06}}}
	require.ErrorContains(t, it.Forecast(&Input{Now: 0.02, History: hist}, rand.New(rand.NewPCG(1, 1)), &buf), "Residual")
	_, err = NewGuarded(it, it)
	require.ErrorContains(t, err, "estimate")
	// the metadata names the kind, and a wrong kind or length is refused
	require.NoError(t, rm.Meta.Validate())
	bad := rm.Meta
	bad.CondKind = "fit"
	require.ErrorContains(t, bad.Validate(), "cond_kind")
	bad = rm.Meta
	bad.CondKind = ""
	require.ErrorContains(t, bad.Validate(), "cond_mean")
}
