package control_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/perception"
)

// scripted is a controller with scripted behaviour: it reports a code, can
// take (simulated) time, and asks for a fixed joint velocity.
type scripted struct {
	control.Hold
	code  control.Code
	clock *control.SimClock
	cost  time.Duration
	qd    float64
}

func (s *scripted) Step(in *control.Input, out *control.Command) (control.Status, error) {
	st, err := s.Hold.Step(in, out)
	if s.clock != nil && s.cost > 0 {
		s.clock.Advance(s.cost)
	}
	for j := range out.Qd {
		out.Qd[j] = s.qd
	}
	st.Code = s.code
	return st, err
}

type rig struct {
	loop  *control.Loop
	arm   *control.MirrorArm
	clock *control.SimClock
	ctrl  *scripted
}

func newRig(t testing.TB, cfg control.LoopConfig, withEst bool) *rig {
	t.Helper()
	s, _ := newSafety(t, cfg.Safety)
	clock := control.NewSimClock(true)
	arm := control.NewMirrorArm(ready().Q, 0)
	ctrl := &scripted{code: control.Waiting, clock: clock}
	var est control.Estimator
	if withEst {
		props, err := ball.ByName("tennis")
		require.NoError(t, err)
		e, err := perception.NewEstimator(perception.EstimatorConfig{}, props)
		require.NoError(t, err)
		est = e
	}
	l, err := control.NewLoop(cfg, clock, arm, ctrl, est, s, nil)
	require.NoError(t, err)
	return &rig{loop: l, arm: arm, clock: clock, ctrl: ctrl}
}

// ballAt is a throw toward the robot: 4.5 m/s along −x from 3.9 m out.
func ballAt(t time.Duration) [3]float64 {
	s := t.Seconds()
	return [3]float64{3.9 - 4.5*s, 0.1, 0.5 + 4*s - 4.9*s*s}
}

// TestTickAllocatesNothing: read → estimate (with observations) → step →
// safety → write, 0 allocations per tick.
func TestTickAllocatesNothing(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, true)
	now := time.Duration(0)
	r.loop.Tick(now) // first tick resets the controller
	allocs := testing.AllocsPerRun(2000, func() {
		now += 4 * time.Millisecond
		r.arm.WriteCommand(now, &control.Command{}) // keep the state fresh
		// The same 0.6 s flight over and over, so every observation stays
		// plausible (a ball at z = −280 m is rejected and counted).
		r.loop.Observe(now-8*time.Millisecond, ballAt(now%(600*time.Millisecond)))
		r.loop.Tick(now)
	})
	require.Zero(t, allocs)
	st := r.loop.Stats()
	require.Zero(t, st.Interventions.Total(), "%+v", st.Interventions)
}

// TestRunSkipsOverruns: a step that takes 2.5 periods makes the loop skip the
// missed deadlines instead of running them late in a burst.
func TestRunSkipsOverruns(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, false)
	r.ctrl.cost = 10 * time.Millisecond // 2.5 ticks at 250 Hz
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.loop.Run(ctx) }()
	require.Eventually(t, func() bool { return r.loop.Stats().Ticks >= 100 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	st := r.loop.Stats()
	// Each tick but the first overruns and skips two deadlines: ticks run on
	// every third deadline.
	require.InDelta(t, float64(st.Ticks-1), float64(st.Overruns), 1)
	require.InDelta(t, 2*float64(st.Overruns), float64(st.Skipped), 2)
	require.Equal(t, st.Ticks, st.JitterUS.N)
	require.Zero(t, st.JitterUS.Max, "a simulated clock wakes exactly on the deadline")
}

// TestStaleJointStatesHold: a lost joint-state stream makes the loop brake to
// a hold within 3 ticks; it resumes when states come back.
func TestStaleJointStatesHold(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, false)
	r.ctrl.qd = 0.02 // the controller keeps asking to move
	p := 4 * time.Millisecond
	now := time.Duration(0)
	for k := 0; k < 10; k++ {
		r.loop.Tick(now)
		now += p
	}
	r.arm.SetFrozen(true)
	var ts control.TickState
	for k := 0; k < 60; k++ {
		r.loop.Tick(now)
		now += p
	}
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeStale, ts.Mode)
	for j, v := range ts.Cmd.Qd {
		require.Zero(t, v, "joint %d still commanded to move while states are stale", j)
	}
	st := r.loop.Stats()
	require.GreaterOrEqual(t, st.Interventions.StaleJoints, uint64(55))
	r.arm.SetFrozen(false)
	r.arm.WriteCommand(now, &ts.Cmd)
	r.loop.Tick(now)
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeRunning, ts.Mode)
}

// TestEStopLatches: an e-stop brakes the arm and stays engaged (a false
// request and a Rearm do not release it) until a Release.
func TestEStopLatches(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, false)
	r.ctrl.qd = 0.02
	now := time.Duration(0)
	tick := func(n int) {
		for k := 0; k < n; k++ {
			r.loop.Tick(now)
			now += 4 * time.Millisecond
		}
	}
	tick(5)
	r.loop.EStop(true)
	tick(5)
	r.loop.EStop(false)
	tick(50)
	var ts control.TickState
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeEStop, ts.Mode)
	require.True(t, ts.EStop)
	for _, v := range ts.Cmd.Qd {
		require.Zero(t, v)
	}
	require.Equal(t, uint64(55), r.loop.Stats().Interventions.EStop)
	r.loop.Rearm(control.Rearm{Seq: 7, Epoch: now})
	tick(1)
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeEStop, ts.Mode, "a re-arm does not release the e-stop")
	r.loop.Release()
	tick(1)
	require.True(t, r.loop.Latest(&ts))
	require.Equal(t, control.ModeRunning, ts.Mode)
	require.Equal(t, uint32(7), ts.Armed)
	require.Equal(t, 4*time.Millisecond, ts.TrialT)
}

// TestBallLostAborts: mid-catch, observations stop; after 100 ms the catch is
// aborted and the arm brakes, until the next Rearm.
func TestBallLostAborts(t *testing.T) {
	r := newRig(t, control.LoopConfig{}, true)
	r.ctrl.code = control.Tracking
	now := time.Duration(0)
	r.loop.Rearm(control.Rearm{Seq: 1, Epoch: 0})
	var ts control.TickState
	for k := 0; k < 100; k++ {
		r.loop.Tick(now)
		if k < 40 && k%2 == 0 {
			r.loop.Observe(now, ballAt(now))
		}
		now += 4 * time.Millisecond
		require.True(t, r.loop.Latest(&ts))
		if k == 35 {
			require.True(t, ts.Ball.Valid)
			require.Equal(t, control.ModeRunning, ts.Mode)
		}
	}
	require.Equal(t, control.ModeAborted, ts.Mode)
	require.True(t, ts.Aborted)
	require.Equal(t, uint64(1), r.loop.Stats().Interventions.BallLost)
}

func BenchmarkTick(b *testing.B) {
	r := newRig(b, control.LoopConfig{}, true)
	now := time.Duration(0)
	r.loop.Tick(now)
	b.ReportAllocs()
	for b.Loop() {
		now += 4 * time.Millisecond
		r.loop.Observe(now-8*time.Millisecond, ballAt(now%(600*time.Millisecond)))
		r.loop.Tick(now)
	}
}
