package control_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

const period = 0.004 // 250 Hz

func newSafety(t testing.TB, cfg control.SafetyConfig) (*control.Safety, *robot.Robot) {
	t.Helper()
	rob, err := robot.Default()
	require.NoError(t, err)
	s, err := control.NewSafety(cfg, rob, period)
	require.NoError(t, err)
	return s, rob
}

func ready() control.ArmState {
	return control.ArmState{Q: append([]float64(nil), sim.DefaultReadyQ...), Qd: make([]float64, len(sim.DefaultReadyQ))}
}

func TestSafetyFilter(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	lim := rob.Limits
	cases := []struct {
		name    string
		edit    func(c *control.Command)
		verdict control.Verdict
		count   func(i control.Interventions) uint64
	}{
		{"within limits", func(c *control.Command) { c.Qd[1] = 0.01 }, control.Passed, nil},
		{"NaN position", func(c *control.Command) { c.Q[3] = math.NaN() }, control.Braked, func(i control.Interventions) uint64 { return i.NaN }},
		{"Inf velocity", func(c *control.Command) { c.Qd[0] = math.Inf(-1) }, control.Braked, func(i control.Interventions) uint64 { return i.NaN }},
		{"past upper position limit", func(c *control.Command) { c.Q[6] = lim.Upper[6] + 1 }, control.Clamped, func(i control.Interventions) uint64 { return i.Position }},
		{"over velocity limit", func(c *control.Command) { c.Qd[2] = 100 }, control.Clamped, func(i control.Interventions) uint64 { return i.Velocity }},
		{"over acceleration limit", func(c *control.Command) { c.Qd[4] = 0.5 }, control.Clamped, func(i control.Interventions) uint64 { return i.Accel }},
		{"head above the box", func(c *control.Command) { c.Q[1] = 0.01 }, control.Braked, func(i control.Interventions) uint64 { return i.Workspace }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := control.SafetyConfig{}
			if tc.verdict == control.Braked && tc.count(control.Interventions{Workspace: 1}) == 1 {
				// The ready pose has the head at z ≈ 1.25 m: a box topping out at 1 m excludes it.
				cfg.WorkspaceMin, cfg.WorkspaceMax = [3]float64{-1, -2, 0.15}, [3]float64{2, 2, 1}
			}
			s, _ := newSafety(t, cfg)
			arm := ready()
			cmd := control.NewCommand(len(arm.Q))
			copy(cmd.Q, arm.Q)
			tc.edit(&cmd)
			require.Equal(t, tc.verdict, s.Filter(&cmd, &arm))
			if tc.count != nil {
				require.Equal(t, uint64(1), tc.count(s.Counts))
			} else {
				require.Zero(t, s.Counts.Total())
			}
			// Whatever went in, what comes out passes the simulated arm's check.
			require.False(t, control.Check(lim, period, arm.Qd, &cmd), "cmd %v", cmd)
			for j := range cmd.Q {
				require.False(t, math.IsNaN(cmd.Q[j]) || math.IsNaN(cmd.Qd[j]))
			}
		})
	}
}

// TestBrakeComesToRest: from full speed, repeated brakes stop every joint
// within limits, and each step passes the acceleration check.
func TestBrakeComesToRest(t *testing.T) {
	s, rob := newSafety(t, control.SafetyConfig{WorkspaceMin: [3]float64{-9, -9, -9}, WorkspaceMax: [3]float64{9, 9, 9}})
	arm := ready()
	cmd := control.NewCommand(len(arm.Q))
	copy(cmd.Q, arm.Q)
	prev := make([]float64, len(arm.Q))
	// Accelerate for 0.2 s, then brake.
	for k := 0; k < 40; k++ {
		for j := range cmd.Qd {
			cmd.Qd[j] = prev[j] + 0.9*rob.Limits.Acc[j]*period
			cmd.Q[j] += cmd.Qd[j] * period
		}
		require.Equal(t, control.Passed, s.Filter(&cmd, &arm), "tick %d", k)
		copy(prev, cmd.Qd)
	}
	for k := 0; k < 500; k++ {
		s.Brake(&cmd, &arm)
		require.False(t, control.Check(rob.Limits, period, prev, &cmd), "brake tick %d", k)
		copy(prev, cmd.Qd)
	}
	for j := range cmd.Qd {
		require.Zero(t, cmd.Qd[j], "joint %d still moving", j)
	}
}

func TestSafetyConfigValidate(t *testing.T) {
	require.NoError(t, control.SafetyConfig{}.Validate())
	require.ErrorContains(t, control.SafetyConfig{WorkspaceMin: [3]float64{1, 0, 0}, WorkspaceMax: [3]float64{0, 1, 1}}.Validate(), "workspace_min_m[0]")
	require.ErrorContains(t, control.SafetyConfig{JointStaleTicks: -1}.Validate(), "joint_stale_ticks")
	require.ErrorContains(t, control.SafetyConfig{BallStaleS: math.NaN()}.Validate(), "ball_stale_s")
}

// TestFilterDTAfterSkippedTick: after a skipped deadline (8 ms since the
// last command) the velocity may change by two periods' acceleration, never
// more than four.
func TestFilterDTAfterSkippedTick(t *testing.T) {
	s, rob := newSafety(t, control.SafetyConfig{})
	arm := ready()
	cmd := control.NewCommand(len(arm.Q))
	copy(cmd.Q, arm.Q)
	require.Equal(t, control.Passed, s.Filter(&cmd, &arm))
	a := rob.Limits.Acc[1]
	cmd.Qd[1] = 1.5 * a * period
	require.Equal(t, control.Passed, s.FilterDT(&cmd, &arm, 2*period), "1.5 periods' change over 2 periods")
	cmd.Qd[1] += 10 * a * period
	require.Equal(t, control.Clamped, s.FilterDT(&cmd, &arm, 1.0), "a 1 s gap counts as 4 periods")
	require.InDelta(t, 5.5*a*period, cmd.Qd[1], 1e-12)
}
