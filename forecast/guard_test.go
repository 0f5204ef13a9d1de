package forecast

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
)

func throwHistory(props ball.Props, v ball.Vec) []Obs {
	s := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: v}
	var hist []Obs
	for i := 0; i < 20; i++ {
		hist = append(hist, Obs{T: float64(i) * 0.008, P: s.P})
		props.Step(&s, 0.008)
	}
	return hist
}

// The guard uses the model inside its training envelope and the fallback outside it (a
// ball faster than any it was trained on) and where the model has no condition.
func TestGuarded(t *testing.T) {
	m := tinyModel(t, true)
	props := m.Meta.Ball
	it, err := NewInterpolant(m, nil, nil, SamplerConfig{Method: MethodFlow, Steps: 2})
	require.NoError(t, err)
	// the envelope: around the condition of a 4.5 m/s throw
	nominal := Input{Now: 0.16, History: throwHistory(props, ball.Vec{-4.5, 0, 3.8})}
	c := make([]float64, CondDim)
	require.True(t, it.Condition(&nominal, c))
	m.Meta.CondLo, m.Meta.CondHi = make([]float64, CondDim), make([]float64, CondDim)
	for k := range c {
		m.Meta.CondLo[k], m.Meta.CondHi[k] = c[k]-0.5, c[k]+0.5
		m.Meta.CondStd[k] = 0.2
	}
	require.NoError(t, m.Meta.Validate())
	fb := constForecaster{off: 5}
	g, err := NewGuarded(it, fb)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 1))
	buf := NewBuffer(0.02, 30, 16)

	require.NoError(t, g.Forecast(&nominal, rng, &buf))
	require.Equal(t, UsedModel, g.Last)
	require.Less(t, buf.Pos[0], 4.0) // the model's forecast, not the fallback's +5 m

	fast := Input{Now: 0.16, History: throwHistory(props, ball.Vec{-9, 0, 3.8})}
	require.NoError(t, g.Forecast(&fast, rng, &buf))
	require.Equal(t, OutOfRange, g.Last)
	require.Greater(t, buf.Pos[0], 4.0)
	ok, k := m.Meta.InRange(func() []float64 { it.Condition(&fast, c); return c }())
	require.False(t, ok)
	require.Equal(t, "horizontal speed", CondNames[k])

	short := Input{Now: 0.01, History: nominal.History[:2]}
	require.NoError(t, g.Forecast(&short, rng, &buf))
	require.Equal(t, NoCondition, g.Last)
	require.Equal(t, GuardStats{Model: 1, OutOfRange: 1, NoCondition: 1, Outside: [CondDim]int{1}}, g.Stats)

	// without stored quantiles the envelope is mean ± 3σ
	m.Meta.CondLo, m.Meta.CondHi = nil, nil
	copy(m.Meta.CondMean, c)
	ok, _ = m.Meta.InRange(c)
	require.True(t, ok)
	c[3] += 3.1 * m.Meta.CondStd[3]
	ok, k = m.Meta.InRange(c)
	require.False(t, ok)
	require.Equal(t, 3, k)

	_, err = NewGuarded(it, nil)
	require.Error(t, err)
}
