package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
)

func defaultRobot(t testing.TB) *robot.Robot {
	rob, err := robot.Default()
	require.NoError(t, err)
	return rob
}

func TestBuiltinScenariosLoad(t *testing.T) {
	want := []string{"fast", "hand-lob", "laggy", "light-ball", "nominal", "slow", "wide-yaw"}
	require.Equal(t, want, Names())
	for _, n := range want {
		s, err := Lookup(n)
		require.NoError(t, err, n)
		require.Equal(t, n, s.Name)
	}
}

func TestScenarioBadInput(t *testing.T) {
	base := `name: x
mode: thrower
exit_x_m: [3.9, 3.9]
exit_y_m: [0, 0]
exit_z_m: [0.5, 0.5]
horizontal_speed_mps: {mean: 4.5, std: 0.05}
yaw_deg: [-6, 6]
arrival_z_m: [1, 1.2]
`
	_, err := ParseScenario([]byte(base))
	require.NoError(t, err, "the base scenario must be valid for the cases below to mean anything")
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", base + "bogus: 1\n", "bogus"},
		{"unknown ball", base + "ball: bowling\n", "ball"},
		{"bad mode", base + "mode: catapult\n", "mode"},
		{"reversed range", base + "spin_rps: [5, 1]\n", "spin_rps"},
		{"negative latency", base + "action_latency_ms: -3\n", "action_latency_ms"},
		{"dropout 1", base + "observation: {dropout: 1}\n", "dropout"},
		{"no name", "mode: thrower\n", "name"},
		{"empty", "", "empty"},
		{"not yaml", "{{{", "yaml"},
		{"thrower too close", base + "exit_x_m: [0.1, 0.2]\n", "exit_x_m"},
		{"NaN speed", base + "horizontal_speed_mps: {mean: .nan, std: 0}\n", "horizontal_speed_mps"},
		{"right fraction out of range", base + "right_fraction: 1.5\n", "right_fraction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(c.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	_, err = Lookup("nope")
	require.ErrorContains(t, err, "nominal")
	_, err = Lookup(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "missing.yaml")
}

func TestScenarioFileRoundTrip(t *testing.T) {
	data, err := builtinFS.ReadFile("scenarios/nominal.yaml")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "mine.yaml")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	s, err := Lookup(p)
	require.NoError(t, err)
	b, _ := Lookup("nominal")
	// Same file, same throws.
	require.Equal(t, b.Sample(TrialRand(3, 4)).Init, s.Sample(TrialRand(3, 4)).Init)
}

// The nominal thrower reproduces the paper's numbers (docs/architecture.md §5).
func TestNominalThrowStatistics(t *testing.T) {
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	st, err := Throws(sc, defaultRobot(t), Config{}, 400, 7, 0)
	require.NoError(t, err)
	require.InDelta(t, 4.5, st.HorizontalSpeed.Mean, 0.02)
	require.InDelta(t, 0.05, st.HorizontalSpeed.Std, 0.01)
	require.Greater(t, st.FlightTime.Mean, 0.80)
	require.Less(t, st.FlightTime.Mean, 0.95)
	require.Greater(t, st.ArrivalSpeed.Mean, 5.0)
	require.Less(t, st.ArrivalSpeed.Mean, 6.0)
	require.InDelta(t, 0.6, st.RightFraction, 0.06) // binomial σ at n=400 is 0.025
	require.GreaterOrEqual(t, st.CatchableFraction, 0.95)
}

func TestThrowerHitsArrivalHeight(t *testing.T) {
	sc, err := Lookup("fast")
	require.NoError(t, err)
	for i := range 20 {
		th := sc.Sample(TrialRand(11, i))
		var r TrialResult
		Describe(&th, &r)
		require.True(t, r.Arrives)
		// The secant solve uses 5 ms steps; the 1 ms flight agrees to a mm.
		require.GreaterOrEqual(t, r.ArrivalZ, sc.ArrivalZ[0]-1e-3)
		require.LessOrEqual(t, r.ArrivalZ, sc.ArrivalZ[1]+1e-3)
	}
}

func testLimits() JointLimits {
	return JointLimits{Lower: []float64{-1, -2}, Upper: []float64{1, 2}, Vel: []float64{2, 3}, Acc: []float64{10, 20}}
}

func TestArmTracksAfterLatency(t *testing.T) {
	arm, err := NewArm(ArmConfig{}, testLimits(), []float64{0, 0}, 0.02, 0.004)
	require.NoError(t, err)
	arm.Command(0, []float64{0.3, -0.5}, []float64{0, 0})
	for i := 0; i < 19; i++ {
		arm.Step(float64(i)*1e-3, 1e-3)
	}
	require.Equal(t, []float64{0, 0}, arm.Q, "nothing moves before the action latency")
	for i := 19; i < 2000; i++ {
		arm.Step(float64(i)*1e-3, 1e-3)
	}
	require.InDeltaSlice(t, []float64{0.3, -0.5}, arm.Q, 1e-4) // settled after 2 s at 12 Hz bandwidth
	require.Zero(t, arm.Guarded)
}

func TestArmNeverPassesLimits(t *testing.T) {
	lim := testLimits()
	arm, err := NewArm(ArmConfig{BandwidthHz: 40}, lim, []float64{0.5, -1.5}, 0, 0.004)
	require.NoError(t, err)
	for i := 0; i < 3000; i++ {
		tt := float64(i) * 1e-3
		if i%4 == 0 {
			// Commands far outside every limit.
			arm.Command(tt, []float64{50, -50}, []float64{100, -100})
		}
		arm.Step(tt, 1e-3)
		for j := range arm.Q {
			require.GreaterOrEqual(t, arm.Q[j], lim.Lower[j])
			require.LessOrEqual(t, arm.Q[j], lim.Upper[j])
			require.LessOrEqual(t, math.Abs(arm.Qd[j]), lim.Vel[j]+1e-12)
		}
	}
	require.Positive(t, arm.Guarded)
	require.InDelta(t, 1, arm.Q[0], 1e-9)
	require.InDelta(t, -2, arm.Q[1], 1e-9)
}

// A head at rest with the net facing up: a ball dropped into the opening
// is caught; one that lands on the frame bounces off; one that falls beside
// the head is not touched.
func TestPocketCatchRimAndMiss(t *testing.T) {
	// Head axes: x (stick) along world x, y (normal) up, z = x × y = −y_world.
	h := HeadMotion{O: ball.Vec{0.5, 0, 1.2}, R: [3][3]float64{{1, 0, 0}, {0, 0, -1}, {0, 1, 0}}}
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	cases := []struct {
		name             string
		offset           ball.Vec // ball start relative to the head origin, world
		caught, rim, hit bool
	}{
		{"centre", ball.Vec{0, 0, 0.3}, true, false, true},
		{"rim", ball.Vec{0.132, 0, 0.3}, false, true, true},
		{"outside", ball.Vec{0, 0.5, 0.3}, false, false, false},
	}
	open := robot.Pocket{Along: 0.125, Across: 0.08}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPocket(PocketConfig{}, open, props.Radius)
			require.NoError(t, err)
			b := ball.State{P: ball.Vec{h.O[0] + c.offset[0], h.O[1] + c.offset[1], h.O[2] + c.offset[2]}, V: ball.Vec{0, 0, -1}}
			for i := 1; i <= 1500; i++ {
				props.Step(&b, 1e-3)
				p.Interact(float64(i)*1e-3, 1e-3, &h, &b)
				if p.Caught {
					break
				}
			}
			require.Equal(t, c.caught, p.Caught)
			require.Equal(t, c.rim, p.RimHits > 0)
			require.Equal(t, c.hit, p.EnteredAt >= 0 || p.RimHits > 0)
			if c.caught {
				require.InDelta(t, p.EnteredAt+0.25, p.CaughtAt, 2e-3)
				lp, _ := h.relative(&b)
				require.Less(t, lp[1], 0.0, "the caught ball lies behind the opening")
			}
		})
	}
}

func TestClopperPearson(t *testing.T) {
	// Reference values: exact binomial intervals (e.g. R's binom.test).
	ci := ClopperPearson(5, 10, 0.05)
	require.InDelta(t, 0.187086, ci[0], 1e-5)
	require.InDelta(t, 0.812914, ci[1], 1e-5)
	ci = ClopperPearson(0, 10, 0.05)
	require.Equal(t, 0.0, ci[0])
	require.InDelta(t, 0.308497, ci[1], 1e-5)
	ci = ClopperPearson(98, 100, 0.05)
	require.InDelta(t, 0.929610, ci[0], 1e-5)
	require.Equal(t, [2]float64{0, 1}, ClopperPearson(0, 0, 0.05))
}

// reckless commands the upper limit at twice the velocity limit.
type reckless struct{ rob *robot.Robot }

func (r *reckless) Name() string                 { return "reckless" }
func (r *reckless) Reset(control.ArmState) error { return nil }
func (r *reckless) Step(_ *control.Input, out *control.Command) (control.Status, error) {
	for j := range out.Q {
		out.Q[j] = r.rob.Limits.Upper[j] + 1
		out.Qd[j] = 2 * r.rob.Limits.Vel[j]
	}
	return control.Status{}, nil
}

func TestRunCountsViolationsAndIsDeterministic(t *testing.T) {
	rob := defaultRobot(t)
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	run := func(workers int, f func() (control.Controller, error)) (Summary, []TrialResult) {
		s, r, err := Run(context.Background(), RunOptions{Scenario: sc, Robot: rob, Trials: 12, Seed: 5, Workers: workers, NewController: f})
		require.NoError(t, err)
		return s, r
	}
	hold := func() (control.Controller, error) { return &control.Hold{}, nil }
	s1, r1 := run(1, hold)
	s2, r2 := run(2, hold)
	require.Equal(t, r1, r2, "results must not depend on the worker count")
	require.Equal(t, s1.Caught, s2.Caught)
	require.Zero(t, s1.Caught, "holding still catches nothing")
	require.Zero(t, s1.LimitViolations)
	require.Zero(t, s1.CommandCollisions, "the ready pose is clear")
	require.Equal(t, 12, s1.Catchable)

	bad := func() (control.Controller, error) { return &reckless{rob}, nil }
	s3, r3 := run(2, bad)
	require.Positive(t, s3.LimitViolations)
	for _, r := range r3 {
		require.Equal(t, r.Steps, r.LimitViolations, "every reckless command is a violation")
		require.Positive(t, r.ArmGuarded, "the arm's guard stops joints at their limits")
		v := r.ViolationKinds
		require.Equal(t, r.LimitViolations, v.Total(), "the kinds add up")
		require.Equal(t, r.Steps, v.Commands)
		require.Zero(t, v.EnginePeriods, "the kinematic engine has no torque or contact limits")
		require.Equal(t, r.Steps, v.Position, "every command is past the upper position limit")
		require.Equal(t, r.Steps, v.Velocity, "and twice the velocity limit")
	}
	require.Equal(t, s3.LimitViolations, s3.ViolationKinds.Total())
	require.Equal(t, 12, s3.ViolationTrials)
	require.Zero(t, s1.ViolationTrials)
}

// TestRunCountsCollidingCommands: an arm held with its head in the rail
// beam (a pose within the joint limits and the workspace box) commands a
// colliding pose on every tick, whatever filter the world runs.
func TestRunCountsCollidingCommands(t *testing.T) {
	rob := defaultRobot(t)
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	inRail := []float64{0, -0.49, 0.89, 0.37, 0, 1.01, 1.01}
	s, res, err := Run(context.Background(), RunOptions{Scenario: sc, Robot: rob, Config: Config{ReadyQ: inRail}, Trials: 3, Seed: 1, Workers: 1,
		NewController: func() (control.Controller, error) { return &control.Hold{}, nil }})
	require.NoError(t, err)
	steps := 0
	for _, r := range res {
		require.Positive(t, r.Steps)
		require.Equal(t, r.Steps, r.CommandCollisions)
		// Braking an arm at rest in contact holds it there: the sent
		// commands still collide, and the second count says so.
		require.Equal(t, r.Steps, r.SentCollisions)
		steps += r.Steps
	}
	require.Equal(t, steps, s.CommandCollisions)
	require.Equal(t, steps, s.SentCollisions)
}

// slowHold is Hold with a modelled compute time per step.
type slowHold struct {
	control.Hold
	d time.Duration
}

func (s *slowHold) ModelledCompute() time.Duration { return s.d }

// TestComputeChargeSkipsTicks: a step modelled at 10 ms holds the 4 ms loop
// through the next two ticks, as a loop that overran would skip them.
func TestComputeChargeSkipsTicks(t *testing.T) {
	rob := defaultRobot(t)
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	w, err := NewWorld(Config{}, rob, sc)
	require.NoError(t, err)
	for _, tc := range []struct {
		d    time.Duration
		skip int // skipped ticks per step
	}{{0, 0}, {3 * time.Millisecond, 0}, {10 * time.Millisecond, 2}, {4 * time.Millisecond, 0}} {
		var res TrialResult
		require.NoError(t, RunTrial(w, &slowHold{d: tc.d}, sc, 1, 0, &res))
		require.Positive(t, res.Steps)
		// The trial ends within a step of a multiple of three ticks.
		require.InDelta(t, tc.skip*res.Steps, res.SkippedTicks, float64(tc.skip), "modelled %v", tc.d)
		require.Zero(t, res.LimitViolations, "the acceleration check spans the skipped ticks")
	}
}

func TestConfigBadInput(t *testing.T) {
	rob := defaultRobot(t)
	sc, _ := Lookup("nominal")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"rate", Config{ControlRateHz: 333}, "control_rate_hz"},
		{"ready length", Config{ReadyQ: []float64{0}}, "ready_q"},
		{"ready outside", Config{ReadyQ: []float64{5, 0, 0, 0, 0, 0, 0}}, "ready_q[0]"},
		{"bandwidth", Config{Arm: ArmConfig{BandwidthHz: -1}}, "bandwidth_hz"},
		{"pocket", Config{Pocket: PocketConfig{Restitution: 2}}, "restitution"},
		{"reach", Config{Reach: ReachConfig{NormalTolDeg: 120}}, "normal_tol_deg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewWorld(c.cfg, rob, sc)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// countingForecaster hands out a one-sample forecast at the estimate.
type countingForecaster struct{ starts, obs, calls int }

func (c *countingForecaster) StartThrow(*Throw) error   { c.starts++; return nil }
func (c *countingForecaster) Observe(float64, ball.Vec) { c.obs++ }
func (c *countingForecaster) Forecast(now float64, est *ball.Estimate, dst *control.Forecast) bool {
	c.calls++
	dst.T0, dst.Dt, dst.H, dst.N = now, 0.02, 1, 1
	copy(dst.Pos, est.State.P[:])
	return true
}

// seesForecast records whether the controller was given forecasts.
type seesForecast struct {
	control.Hold
	with, without int
}

func (s *seesForecast) Step(in *control.Input, out *control.Command) (control.Status, error) {
	if in.Forecast != nil && in.Forecast.N == 1 {
		s.with++
	} else {
		s.without++
	}
	return s.Hold.Step(in, out)
}

func TestForecasterReachesController(t *testing.T) {
	rob := defaultRobot(t)
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	w, err := NewWorld(Config{}, rob, sc)
	require.NoError(t, err)
	fc := &countingForecaster{}
	w.SetForecaster(fc, control.Forecast{Pos: make([]float64, 3)})
	ctrl := &seesForecast{}
	var res TrialResult
	require.NoError(t, RunTrial(w, ctrl, sc, 1, 0, &res))
	require.Equal(t, 1, fc.starts)
	require.Positive(t, fc.obs, "every observation reaches the forecaster")
	require.Positive(t, fc.calls)
	require.LessOrEqual(t, fc.calls, fc.obs, "one forecast per batch of new observations at most")
	require.Positive(t, ctrl.with)
	require.Positive(t, ctrl.without, "no forecast before the estimate is valid")
}

// Every scenario reports the throw's yaw as the heading of its horizontal
// velocity in (−180°, 180°], with the thrower's sign (negative to the
// robot's right). Hand lobs used to come out near −350° (an angle wrap) and
// with the sign flipped, which dropped them from the yaw plots.
func TestYawIsTheHeadingInOneConvention(t *testing.T) {
	for _, name := range Names() {
		sc, err := Lookup(name)
		require.NoError(t, err)
		for i := range 200 {
			th := sc.Sample(TrialRand(3, i))
			require.Greater(t, th.YawDeg, -180.0, "%s throw %d", name, i)
			require.LessOrEqual(t, th.YawDeg, 180.0, "%s throw %d", name, i)
			// Every throw flies toward the robot: well inside ±90°.
			require.Less(t, math.Abs(th.YawDeg), 60.0, "%s throw %d", name, i)
			want := math.Atan2(th.Init.V[1], -th.Init.V[0]) * 180 / math.Pi
			require.InDelta(t, want, th.YawDeg, 1e-9, "%s throw %d", name, i)
			if th.YawDeg < -0.5 {
				require.Less(t, th.Init.V[1], 0.0, "%s throw %d: negative yaw flies to the right (−y)", name, i)
			}
		}
	}
	nominal, err := Lookup("nominal")
	require.NoError(t, err)
	for i := range 100 {
		y := nominal.Sample(TrialRand(5, i)).YawDeg
		require.GreaterOrEqual(t, y, -6.0-1e-9)
		require.LessOrEqual(t, y, 6.3+1e-9)
	}
}

// lateObserver sees the ball from the first frame but vouches for a frame
// only two frames later, then hands over the two it held back (as the
// camera tracker does when it confirms a flight).
type lateObserver struct {
	frames []TimedPoint
	n      int
}

func (l *lateObserver) StartThrow(*Throw, *rand.Rand) error {
	l.frames, l.n = l.frames[:0], 0
	return nil
}

func (l *lateObserver) Observe(t float64, p ball.Vec, _ *rand.Rand) (ball.Vec, bool) {
	l.frames = append(l.frames, TimedPoint{T: t, P: p})
	l.n++
	return p, l.n >= 3
}

func (l *lateObserver) Late(dst []TimedPoint) []TimedPoint {
	if l.n == 3 {
		dst = append(dst, l.frames[0], l.frames[1])
	}
	return dst
}

// timesForecaster records the times of the observations handed over.
type timesForecaster struct {
	countingForecaster
	t []float64
}

func (f *timesForecaster) Observe(t float64, _ ball.Vec) { f.t = append(f.t, t) }

// TestLateObservationsReachEstimator: a LateObserver's held-back frames are
// handed to the estimator (and forecaster) in time order, from the first
// frame on, as a state-fidelity observer's would be.
func TestLateObservationsReachEstimator(t *testing.T) {
	rob := defaultRobot(t)
	sc, err := Lookup("nominal")
	require.NoError(t, err)
	w, err := NewWorld(Config{}, rob, sc)
	require.NoError(t, err)
	obs := &lateObserver{}
	w.SetObserver(obs)
	fc := &timesForecaster{}
	w.SetForecaster(fc, control.Forecast{Pos: make([]float64, 3)})
	var res TrialResult
	require.NoError(t, RunTrial(w, &control.Hold{}, sc, 1, 0, &res))
	require.Greater(t, len(fc.t), 10)
	require.Equal(t, obs.frames[0].T, fc.t[0], "the first frame reaches the estimator")
	require.Equal(t, obs.frames[1].T, fc.t[1])
	// Every frame, none twice (the last may still be in its latency when
	// the trial ends).
	require.InDelta(t, len(obs.frames), len(fc.t), 1)
	for i := 1; i < len(fc.t); i++ {
		require.Greater(t, fc.t[i], fc.t[i-1], "in time order")
	}
}
