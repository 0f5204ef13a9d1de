package mpc

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/sim"
)

func TestSetTunables(t *testing.T) {
	rob := testRobot(t)
	c, err := New(Config{}, rob, sim.DefaultReadyQ)
	require.NoError(t, err)
	tu := c.Tunables()
	def := Config{}.WithDefaults()
	require.Equal(t, def.CatchRelSpeed, tu.CatchRelSpeed)
	require.Equal(t, reachPref, tu.ReachPrefM)
	require.Zero(t, tu.CatchXShiftM)
	tu.CatchRelSpeed = 3
	tu.MaxCatchSpeed = 99     // clamped to 6
	tu.SlowDownS = math.NaN() // kept
	tu.ReachPrefM = 0         // clamped into the workspace
	tu.CatchXShiftM = 0.1
	require.NoError(t, c.SetTunables(&tu))
	got := c.Tunables()
	require.Equal(t, 3.0, got.CatchRelSpeed)
	require.Equal(t, 6.0, got.MaxCatchSpeed)
	require.Equal(t, def.SlowDownS, got.SlowDownS)
	require.Equal(t, reachMin+0.05, got.ReachPrefM)
	require.Equal(t, 0.1, got.CatchXShiftM)
	require.Equal(t, 3.0, c.Planner().cfg.CatchRelSpeed, "the planner plans with them")
	a, err := New(Config{Async: true}, rob, sim.DefaultReadyQ)
	require.NoError(t, err)
	defer a.Close()
	require.Error(t, a.SetTunables(&tu))
}
