package control_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
)

// jumper is a controller that commands a fixed pose, whatever the arm does
// (a stale plan, a pose remembered from before a disarm).
type jumper struct {
	control.Hold
	q []float64
}

func (j *jumper) Step(in *control.Input, out *control.Command) (control.Status, error) {
	copy(out.Q, j.q)
	for i := range out.Qd {
		out.Qd[i] = 0
	}
	return control.Status{Code: control.Waiting}, nil
}

// stepBound is what the velocity limits allow joint j to move in one period.
func maxStepRatio(t *testing.T, prev, cur []float64) float64 {
	t.Helper()
	_, rob := newSafety(t, control.SafetyConfig{})
	r := 0.0
	for j := range cur {
		r = math.Max(r, math.Abs(cur[j]-prev[j])/(rob.Limits.Vel[j]*period))
	}
	return r
}

// TestStepBound: a 1.5 rad step on joint 6 in one period (what the old
// filter let through) becomes a ramp within the velocity and acceleration
// limits, counted, and the command converges on the target (overshooting by
// at most a few mrad).
func TestStepBound(t *testing.T) {
	s, rob := newSafety(t, control.SafetyConfig{MaxLeadS: 10})
	arm := ready()
	cmd := control.NewCommand(len(arm.Q))
	prev := append([]float64(nil), arm.Q...)
	target := arm.Q[6] + 1.5
	a := rob.Limits.Acc[6]
	worst, prevStep := 0.0, 0.0
	for k := 0; k < 400; k++ {
		copy(cmd.Q, arm.Q)
		cmd.Q[6] = target
		v := s.Filter(&cmd, &arm)
		if k == 0 {
			require.Equal(t, control.Clamped, v)
			// From rest, the first step may reach a·dt of speed: a·dt² of travel.
			require.InDelta(t, arm.Q[6]+a*period*period, cmd.Q[6], 1e-12)
		}
		worst = math.Max(worst, maxStepRatio(t, prev, cmd.Q))
		// The ramp's rate changes within the acceleration limit, from the
		// first step to the hand-off.
		step := cmd.Q[6] - prev[6]
		require.LessOrEqual(t, math.Abs(step-prevStep), a*period*period*(1+1e-9), "tick %d", k)
		prevStep = step
		// Landing on the target at speed, the sequence needs v²/2a to stop
		// (a few mrad here); never more.
		require.LessOrEqual(t, cmd.Q[6], target+0.005, "tick %d overshoots", k)
		copy(prev, cmd.Q)
	}
	require.InDelta(t, target, cmd.Q[6], 1e-6, "converged on the target")
	require.LessOrEqual(t, worst, 1+1e-9)
	require.LessOrEqual(t, s.MaxStep, 1+1e-9)
	require.Greater(t, s.Counts.Step, uint64(10))
}

// TestLeadBound: a command that runs more than max_lead_s × v_max away from
// an arm that does not follow is braked and counted; one coming back toward
// the arm passes.
func TestLeadBound(t *testing.T) {
	s, rob := newSafety(t, control.SafetyConfig{MaxLeadS: 0.05})
	arm := ready() // the arm never moves
	cmd := control.NewCommand(len(arm.Q))
	copy(cmd.Q, arm.Q)
	braked := false
	for k := 0; k < 200 && !braked; k++ {
		cmd.Q[1] += 0.5 * rob.Limits.Vel[1] * period
		cmd.Qd[1] = 0.5 * rob.Limits.Vel[1]
		braked = s.Filter(&cmd, &arm) == control.Braked
	}
	require.True(t, braked)
	require.Equal(t, uint64(1), s.Counts.Lead)
	require.LessOrEqual(t, math.Abs(cmd.Q[1]-arm.Q[1]), 0.05*rob.Limits.Vel[1]+0.5*rob.Limits.Vel[1]*period)
	s.SetLead(false)
	cmd.Q[1] += 0.001
	require.NotEqual(t, control.Braked, s.Filter(&cmd, &arm), "lead bound off (disengaged)")
}

// TestBumplessReengage is fault 1 in the loop: commands hold pose A, the
// loop is disengaged (disarmed), the arm is moved to pose B (2.2 rad on
// joint 6), and engaged again: the first command is B, not A, and no step
// exceeds the velocity limit.
func TestBumplessReengage(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, false)
	now := time.Duration(0)
	tick := func() control.TickState {
		r.loop.Tick(now)
		now += 4 * time.Millisecond
		var ts control.TickState
		require.True(t, r.loop.Latest(&ts))
		return ts
	}
	a := ready().Q
	for k := 0; k < 5; k++ {
		tick()
	}
	r.loop.Engage(false)
	tick()
	b := append([]float64(nil), a...)
	b[6] += 2.2
	r.arm.SetFrozen(false)
	r.arm.WriteCommand(now, &control.Command{Q: b, Qd: make([]float64, len(b))})
	r.arm.SetFrozen(true) // the driver reports B; our commands do not move it
	for k := 0; k < 3; k++ {
		r.arm.SetFrozen(false)
		r.arm.WriteCommand(now, &control.Command{Q: b, Qd: make([]float64, len(b))})
		r.arm.SetFrozen(true)
		tick()
	}
	r.loop.Engage(true)
	r.arm.SetFrozen(false)
	r.arm.WriteCommand(now, &control.Command{Q: b, Qd: make([]float64, len(b))})
	ts := tick()
	require.InDeltaSlice(t, b, ts.Cmd.Q, 1e-9, "the first command after engaging is the measured pose")
	prev := append([]float64(nil), ts.Cmd.Q...)
	for k := 0; k < 50; k++ {
		ts = tick()
		require.LessOrEqual(t, maxStepRatio(t, prev, ts.Cmd.Q), 1+1e-9)
		copy(prev, ts.Cmd.Q)
	}
	require.InDeltaSlice(t, b, ts.Cmd.Q, 1e-9, "hold stays at B")
}

// TestRearmStartsFromMeasured: a re-arm restarts the controller and the
// filter from the measured state: a controller that remembered pose A
// commands B, where the arm was found, from the re-arm's first tick on, and
// holds it (no ramp dragging the arm back through A).
func TestRearmStartsFromMeasured(t *testing.T) {
	s, _ := newSafety(t, control.SafetyConfig{})
	clock := control.NewSimClock(true)
	q := ready().Q
	arm := control.NewMirrorArm(q, 0)
	l, err := control.NewLoop(control.LoopConfig{}, clock, arm, &control.Hold{}, nil, s, nil)
	require.NoError(t, err)
	now := time.Duration(0)
	var ts control.TickState
	for k := 0; k < 5; k++ {
		l.Tick(now)
		now += 4 * time.Millisecond
	}
	b := append([]float64(nil), q...)
	b[6] += 0.3
	arm.WriteCommand(now, &control.Command{Q: b, Qd: make([]float64, len(b))})
	l.Rearm(control.Rearm{Seq: 2, Epoch: now})
	for k := 0; k < 50; k++ {
		l.Tick(now)
		now += 4 * time.Millisecond
		require.True(t, l.Latest(&ts))
		require.Equal(t, control.ModeRunning, ts.Mode)
		require.InDeltaSlice(t, b, ts.Cmd.Q, 1e-12, "tick %d after the re-arm", k)
	}
}

// TestNoCommandBeforeJointState is fault 3 in the loop: without a joint
// state the loop writes nothing (it used to write all-zero positions).
func TestNoCommandBeforeJointState(t *testing.T) {
	s, _ := newSafety(t, control.SafetyConfig{})
	arm := &control.MirrorArm{} // no state yet
	l, err := control.NewLoop(control.LoopConfig{}, control.NewSimClock(true), arm, &control.Hold{}, nil, s, nil)
	require.NoError(t, err)
	for k := 0; k < 50; k++ {
		l.Tick(time.Duration(k) * 4 * time.Millisecond)
	}
	require.Zero(t, arm.Writes)
}

// TestFutureObservationCannotBlind is fault 4 in the loop: one observation
// stamped 10 s ahead is rejected and counted, and the real throw after it
// is tracked.
func TestFutureObservationCannotBlind(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, true)
	now := time.Duration(0)
	r.loop.Rearm(control.Rearm{Seq: 1, Epoch: 0})
	r.loop.Observe(10*time.Second, ballAt(0))
	r.loop.Observe(now, [3]float64{1e300, 0, 1})
	r.loop.Observe(now, [3]float64{math.NaN(), 0, 1})
	var ts control.TickState
	for k := 0; k < 60; k++ {
		r.arm.WriteCommand(now, &control.Command{})
		r.loop.Observe(now, ballAt(now))
		r.loop.Tick(now)
		now += 4 * time.Millisecond
	}
	require.True(t, r.loop.Latest(&ts))
	require.True(t, ts.Ball.Valid, "the estimator tracks the real throw")
	require.Equal(t, uint64(3), r.loop.Stats().Interventions.BadObs)
}

// TestRearmGating: re-arms stamped far in the future or long ago are
// rejected with a reason; the controller does not get stuck waiting.
func TestRearmGating(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, false)
	now := 10 * time.Second
	var ts control.TickState
	r.loop.Rearm(control.Rearm{Seq: 1, Epoch: now + time.Hour})
	r.arm.WriteCommand(now, &control.Command{})
	r.loop.Tick(now)
	require.Contains(t, r.loop.LastRejectedRearm(), "in the future")
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeRunning, ts.Mode, "not stuck waiting for a throw an hour away")
	r.loop.Rearm(control.Rearm{Seq: 2, Epoch: now - 5*time.Second})
	now += 4 * time.Millisecond
	r.arm.WriteCommand(now, &control.Command{})
	r.loop.Tick(now)
	require.Contains(t, r.loop.LastRejectedRearm(), "in the past")
	require.Equal(t, uint64(2), r.loop.Stats().Interventions.BadRearms)
	r.loop.Rearm(control.Rearm{Seq: 3, Epoch: now + 150*time.Millisecond})
	now += 4 * time.Millisecond
	r.arm.WriteCommand(now, &control.Command{})
	r.loop.Tick(now)
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, uint32(3), ts.Armed)
	require.Equal(t, control.ModeWaiting, ts.Mode)
}

// TestAutoRearmEveryThrow is fault 5 in the loop: with auto_rearm_idle_s,
// every throw after an idle spell starts a catch, not only the first.
func TestAutoRearmEveryThrow(t *testing.T) {
	r := newRig(t, control.LoopConfig{AutoRearmIdleS: 0.5}, true)
	now := time.Duration(0)
	var ts control.TickState
	starts := []uint32{}
	idle := func() {
		for k := 0; k < 300; k++ { // 1.2 s without a ball
			r.arm.WriteCommand(now, &control.Command{})
			r.loop.Tick(now)
			now += 4 * time.Millisecond
		}
	}
	idle()
	for throw := 0; throw < 3; throw++ {
		t0 := now
		for k := 0; k < 100; k++ { // 0.4 s of flight at 250 Hz, observed at 125 Hz
			r.arm.WriteCommand(now, &control.Command{})
			if k%2 == 0 {
				r.loop.Observe(now, ballAt(now-t0))
			}
			r.loop.Tick(now)
			now += 4 * time.Millisecond
		}
		require.True(t, r.loop.Latest(&ts))
		starts = append(starts, ts.Armed)
		idle()
	}
	require.Equal(t, []uint32{1, 2, 3}, starts)
}

// BenchmarkFilterStep is the safety filter's cost per tick on a moving
// command: passing (within every limit) and clamped by the step bound
// (a target 1.5 rad away on every joint, re-asked each tick).
func BenchmarkFilterStep(b *testing.B) {
	for _, tc := range []struct {
		name string
		jump float64
	}{{"passing", 0}, {"clamped", 1.5}} {
		b.Run(tc.name, func(b *testing.B) {
			s, rob := newSafety(b, control.SafetyConfig{MaxLeadS: 10, WorkspaceMin: [3]float64{-9, -9, -9}, WorkspaceMax: [3]float64{9, 9, 9}})
			arm := ready()
			cmd := control.NewCommand(len(arm.Q))
			q := append([]float64(nil), arm.Q...)
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				// A slow sine on every joint: 0.2 of the velocity limit.
				w := 2 * math.Pi * 0.5
				for j := range cmd.Q {
					amp := 0.2 * rob.Limits.Vel[j] / w
					ph := w * float64(k) * period
					cmd.Q[j] = q[j] + amp*math.Sin(ph) + tc.jump
					cmd.Qd[j] = amp * w * math.Cos(ph)
				}
				s.Filter(&cmd, &arm)
				k++
			}
		})
	}
}
