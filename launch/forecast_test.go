package launch

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/sim"
)

func TestSimForecasterPhysics(t *testing.T) {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	f, buf, err := NewSimForecaster("physics", props, 32)
	require.NoError(t, err)
	defer f.Close()
	th := sim.Throw{Init: ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0, 4.8}}}
	require.NoError(t, f.StartThrow(&th))
	est := ball.Estimate{Valid: true, T: 0.1, State: ball.State{P: ball.Vec{3.45, 0, 0.93}, V: ball.Vec{-4.4, 0, 3.8}}}
	for i := range 6 {
		est.Cov[i*6+i] = 1e-6 // 1 mm, 1 mm/s
	}
	require.True(t, f.Forecast(0.1, &est, &buf))
	require.Equal(t, 32, buf.N)
	// The first horizon's samples sit within a few cm of the mean flight.
	p := est.State
	props.Propagate(&p, buf.Dt, 0)
	for s := 0; s < buf.N; s++ {
		o := s * buf.H * 3
		require.InDelta(t, p.P[0], buf.Pos[o], 0.05)
		require.InDelta(t, p.P[2], buf.Pos[o+2], 0.05)
	}
	require.Zero(t, f.Errors)
}

func TestSimForecasterBadModel(t *testing.T) {
	props, _ := ball.ByName("tennis")
	_, _, err := NewSimForecaster(filepath.Join(t.TempDir(), "missing.onnx"), props, 8)
	require.ErrorContains(t, err, "missing.onnx")
	_, _, err = NewSimForecaster("physics", props, 0)
	require.ErrorContains(t, err, "samples")
}
