package fused

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

const period = 1.0 / 250

func testRobot(t testing.TB) *robot.Robot {
	rob, err := robot.Default()
	require.NoError(t, err)
	return rob
}

func newFused(t testing.TB, rob *robot.Robot, cfg Config, theta []float64) *Controller {
	c, err := New("fused", cfg, mpc.Config{}, rob, sim.DefaultReadyQ, period)
	require.NoError(t, err)
	if theta != nil {
		c.SetParams(theta)
	}
	return c
}

// lockstep runs the fused controller and a reference (a plain MPC, or the
// ES policy) on the same inputs and keeps both commands of every tick (the
// fused controller is what the world sees).
type lockstep struct {
	f       *Controller
	m       control.Controller
	mo      control.Command
	fq, fqd [][]float64
	mq, mqd [][]float64
	inputs  []control.Input
}

func (l *lockstep) Name() string { return "lockstep" }

func (l *lockstep) Reset(arm control.ArmState) error {
	if err := l.f.Reset(arm); err != nil {
		return err
	}
	return l.m.Reset(arm)
}

func (l *lockstep) Step(in *control.Input, out *control.Command) (control.Status, error) {
	st, err := l.f.Step(in, out)
	if err != nil {
		return st, err
	}
	if _, err := l.m.Step(in, &l.mo); err != nil {
		return st, err
	}
	cp := func(x []float64) []float64 { return append([]float64(nil), x...) }
	l.fq, l.fqd = append(l.fq, cp(out.Q)), append(l.fqd, cp(out.Qd))
	l.mq, l.mqd = append(l.mq, cp(l.mo.Q)), append(l.mqd, cp(l.mo.Qd))
	rec := *in
	rec.Arm = control.ArmState{Q: cp(in.Arm.Q), Qd: cp(in.Arm.Qd)}
	l.inputs = append(l.inputs, rec)
	return st, nil
}

func runLockstep(t testing.TB, rob *robot.Robot, scenario string, trial int, cfg Config, theta []float64) (*lockstep, sim.TrialResult) {
	m, err := mpc.New(mpc.Config{}, rob, sim.DefaultReadyQ)
	require.NoError(t, err)
	return runLockstepWith(t, rob, scenario, trial, cfg, theta, m)
}

// runLockstepWith is runLockstep with the reference controller ref.
func runLockstepWith(t testing.TB, rob *robot.Robot, scenario string, trial int, cfg Config, theta []float64, ref control.Controller) (*lockstep, sim.TrialResult) {
	sc, err := sim.Lookup(scenario)
	require.NoError(t, err)
	w, err := sim.NewWorld(sim.Config{}, rob, sc)
	require.NoError(t, err)
	defer w.Close()
	l := &lockstep{f: newFused(t, rob, cfg, theta), m: ref, mo: control.NewCommand(rob.Chain.DOF())}
	var res sim.TrialResult
	require.NoError(t, sim.RunTrial(w, l, sc, 7, trial, &res))
	return l, res
}

// residualTheta is a residual that moves the head by the drift of the
// prediction (gain 1 per axis), everything else at the prior.
func residualTheta() []float64 {
	th := make([]float64, NParams)
	for r := 0; r < 3; r++ {
		th[offRes+r*(NResidualIn+1)+r] = 1
	}
	return th
}

func TestPriorIsTheMPC(t *testing.T) {
	rob := testRobot(t)
	// θ = 0 with the learned parameters and the residual on (the gate
	// off: with it the ES policy drives until the first estimate): the
	// MPC's commands, bit for bit.
	l, res := runLockstep(t, rob, "light-ball", 3, Config{NoGate: true}, make([]float64, NParams))
	require.Greater(t, len(l.fq), 100)
	require.True(t, res.Catchable)
	for k := range l.fq {
		require.Equal(t, l.mq[k], l.fq[k], "tick %d", k)
		require.Equal(t, l.mqd[k], l.fqd[k], "tick %d", k)
	}
}

// gateTheta is a gate alone with bias b.
func gateTheta(b float64) []float64 {
	th := make([]float64, NParams)
	th[offGate+nGateW-1] = b
	return th
}

// The gate hands the throw to the ES policy on the first estimate: the
// fused controller then sends the ES policy's commands bit for bit on
// every tick (it drove until the first estimate). A negative score, as
// θ = 0, keeps the MPC: its commands bit for bit from the first estimate
// on (it stepped in the shadow until then).
func TestGateHandsThrowToES(t *testing.T) {
	rob := testRobot(t)
	newES := func() control.Controller {
		p, err := policy.Shipped()
		require.NoError(t, err)
		a, err := policy.NewAgent(p, rob, 1/period)
		require.NoError(t, err)
		return a
	}
	l, res := runLockstepWith(t, rob, "fast", 2, Config{}, gateTheta(1), newES())
	require.True(t, l.f.UsesES())
	require.True(t, res.Catchable)
	from := -1
	for k := range l.inputs {
		if l.inputs[k].Ball.Valid {
			from = k
			break
		}
	}
	require.Positive(t, from, "the ball was seen")
	for k := range l.fq {
		require.Equal(t, l.mq[k], l.fq[k], "tick %d", k)
		require.Equal(t, l.mqd[k], l.fqd[k], "tick %d", k)
	}
	require.Zero(t, l.f.PlanKnots(make([]float64, 1024)), "no MPC plan while the ES policy flies")
	for _, th := range [][]float64{gateTheta(-1), make([]float64, NParams)} {
		l, _ = runLockstep(t, rob, "fast", 2, Config{}, th)
		require.False(t, l.f.UsesES())
		for k := from; k < len(l.fq); k++ {
			require.Equal(t, l.mq[k], l.fq[k], "tick %d", k)
			require.Equal(t, l.mqd[k], l.fqd[k], "tick %d", k)
		}
	}
	l, _ = runLockstepWith(t, rob, "fast", 2, Config{NoGate: true}, gateTheta(1), newES())
	require.False(t, l.f.UsesES(), "gate off")
}

// The shipped gate: foam balls and every hand lob (since the MPC's
// normal_up_rad it catches flat and steep lobs too) go to the MPC on the
// first estimate; tennis balls from a thrower wait for a settled
// estimate, and go to the ES policy when they cross x = 0 off the centre
// (λ) and are not fast (ς), to the MPC otherwise (central throws, where
// the ES policy's left/right choice is unsure, and fast ones).
func TestShippedGate(t *testing.T) {
	rob := testRobot(t)
	c := newFused(t, rob, Config{}, nil)
	// decide flies a throw at horizontal speed hs, climb, crossing x = 0
	// at y, seen first at height z, through the gate: on the first
	// estimate (3 observations), then one resting on gateMinObs.
	decide := func(props string, hs, climb, y, z float64) (useES, early bool) {
		p, err := ball.ByName(props)
		require.NoError(t, err)
		vz := hs * climb / math.Sqrt(1-climb*climb)
		vy := -hs * y / math.Hypot(3.5, y) // from (3.5, 0) toward (0, y)
		vx := -math.Sqrt(hs*hs - vy*vy)
		est := ball.State{P: ball.Vec{3.5, 0, z}, V: ball.Vec{vx, vy, vz}}
		c.decided, c.useES, c.seen, c.sentOK = false, false, false, false
		c.context(&est, &p)
		c.decide(&est, 3)
		if c.decided {
			return c.useES, true
		}
		c.decide(&est, gateMinObs)
		require.True(t, c.decided)
		return c.useES, false
	}
	for _, tc := range []struct {
		name              string
		props             string
		hs, climb, y, z   float64
		wantES, wantEarly bool
	}{
		{"thrower, tennis, off the centre", "tennis", 4.5, 0.77, 0.25, 0.6, true, false},
		{"thrower, tennis, slow, off the centre", "tennis", 4.1, 0.81, -0.22, 0.6, true, false},
		{"thrower, tennis, central", "tennis", 4.5, 0.77, 0.03, 0.6, false, false},
		{"thrower, tennis, slow, central", "tennis", 4.1, 0.81, -0.06, 0.6, false, false},
		{"thrower, tennis, 0.12 m off the centre", "tennis", 4.5, 0.77, 0.12, 0.6, false, false},
		{"thrower, tennis, fast, off the centre", "tennis", 4.75, 0.74, 0.3, 0.6, false, false},
		{"thrower, foam", "foam", 4.5, 0.75, 0.3, 0.6, false, true},
		{"thrower, foam, steep", "foam", 4.1, 0.95, 0.3, 0.6, false, true},
		{"hand lob, mid elevation", "tennis", 4.1, 0.58, 0.3, 1.3, false, true},
		{"hand lob, flat", "tennis", 4.1, 0.35, 0.3, 1.3, false, true},
		{"hand lob, steep", "tennis", 3, 0.8, -0.3, 1.05, false, true},
		{"hand lob, κ at its clamp", "tennis", 4.1, 0.1, 0.3, 1.3, false, true},
	} {
		es, early := decide(tc.props, tc.hs, tc.climb, tc.y, tc.z)
		require.Equal(t, tc.wantES, es, tc.name)
		require.Equal(t, tc.wantEarly, early, tc.name)
	}
}

// A gate whose sign hinges on λ waits for an estimate resting on
// gateMinObs observations, flying the ES policy's commands until then;
// the MPC then takes over from the ES policy's last command: its first
// commands continue the ES policy's within the joint limits (without
// Rebase they jump to the shadow plan's reference) and the throw is
// caught, also with the sister system's latencies (laggy, 71 ms).
func TestGateTakeOver(t *testing.T) {
	rob := testRobot(t)
	th := gateTheta(-5)
	th[offGate+NContext+2] = 10 // λ: off the centre to the ES policy
	took := 0
	for _, tc := range []struct {
		scenario string
		trial    int
	}{{"laggy", 0}, {"laggy", 3}, {"laggy", 5}, {"nominal", 1}, {"nominal", 4}} {
		p, err := policy.Shipped()
		require.NoError(t, err)
		es, err := policy.NewAgent(p, rob, 1/period)
		require.NoError(t, err)
		l, res := runLockstepWith(t, rob, tc.scenario, tc.trial, Config{}, th, es)
		require.True(t, res.Catchable)
		from, first := -1, -1
		for k := range l.inputs {
			if l.inputs[k].Ball.Valid {
				if first < 0 {
					first = k
				}
				if l.inputs[k].Ball.NObs >= gateMinObs {
					from = k
					break
				}
			}
		}
		require.Greater(t, from, first, "%s %d: the gate waited", tc.scenario, tc.trial)
		if l.f.UsesES() {
			continue
		}
		took++
		for k := 0; k < from; k++ {
			require.Equal(t, l.mq[k], l.fq[k], "%s: the ES policy drove until the decision, tick %d", tc.scenario, k)
		}
		for k := from; k < from+5; k++ {
			for j := range l.fq[k] {
				dq := math.Abs(l.fq[k][j] - l.fq[k-1][j])
				require.LessOrEqual(t, dq, 1.05*rob.Limits.Vel[j]*period, "%s %d: tick %d joint %d", tc.scenario, tc.trial, k, j)
			}
		}
		require.True(t, res.Caught, "%s %d", tc.scenario, tc.trial)
	}
	require.GreaterOrEqual(t, took, 2, "the MPC took over central throws")
}

func TestTunablesMap(t *testing.T) {
	rob := testRobot(t)
	c := newFused(t, rob, Config{}, nil)
	def := c.def
	var phi [NContext]float64
	var out tunables
	th := make([]float64, NParams)
	mapTunables(th, &phi, &def, &out)
	require.Equal(t, def, out, "θ = 0 is the MPC's configuration")
	// catch_rel_speed (row 3) bias +1: default + 0.5 m/s; catch_speed_weight
	// (row 5) through speed: e^(0.5·u) with u clamped at 3.
	th[3*(NContext+1)+NContext] = 1
	th[5*(NContext+1)+0] = 10
	phi[0] = 1
	mapTunables(th, &phi, &def, &out)
	require.InDelta(t, def[3]+0.5, out[3], 1e-12)
	require.InDelta(t, def[5]*math.Exp(1.5), out[5], 1e-9)
	require.Len(t, TunableNames(), NTunables)
	// Applied to the MPC at Reset, clamped to what mpc.Config accepts.
	th[12*(NContext+1)+NContext] = 3 // action latency +0.03 s
	c.SetParams(th)
	n := rob.Chain.DOF()
	require.NoError(t, c.Reset(control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}))
	require.InDelta(t, def[12]+0.03, c.Tunables().ActionLatencyS, 1e-12)
	require.InDelta(t, def[3]+0.5, c.Tunables().CatchRelSpeed, 1e-12)
	c2 := newFused(t, rob, Config{NoLearnedParams: true}, th)
	require.NoError(t, c2.Reset(control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}))
	require.Equal(t, def[12], c2.Tunables().ActionLatencyS, "learned parameters off: the MPC's own")
}

// The residual moves the commands near the catch and keeps them within the
// joint limits the plan's own commands respect.
func TestResidualBounded(t *testing.T) {
	rob := testRobot(t)
	lim := rob.Limits
	moved := 0
	// (with the active-set planner the prediction drifts beyond the
	// residual's deadband in trial 3, not in 0, 1, 2 and 5)
	for _, trial := range []int{0, 1, 2, 3, 5} {
		l, _ := runLockstep(t, rob, "light-ball", trial, Config{NoLearnedParams: true, NoGate: true}, residualTheta())
		for k := range l.fq {
			for j := range l.fq[k] {
				if l.fq[k][j] != l.mq[k][j] {
					moved++
				}
				// tolerances: floating-point rounding of the limit arithmetic
				require.LessOrEqual(t, math.Abs(l.fqd[k][j]), math.Max(resVelFrac*lim.Vel[j], math.Abs(l.mqd[k][j]))+1e-9, "velocity, tick %d joint %d", k, j)
				require.GreaterOrEqual(t, l.fq[k][j], lim.Lower[j], "position, tick %d joint %d", k, j)
				require.LessOrEqual(t, l.fq[k][j], lim.Upper[j], "position, tick %d joint %d", k, j)
				if k == 0 {
					continue
				}
				df := math.Abs(l.fqd[k][j] - l.fqd[k-1][j])
				dm := math.Abs(l.mqd[k][j] - l.mqd[k-1][j])
				require.LessOrEqual(t, df, math.Max(resAccFrac*lim.Acc[j]*period, dm)+1e-9, "acceleration, tick %d joint %d", k, j)
				// the position follows the velocity: no jumps
				step := math.Abs(l.fq[k][j] - l.fq[k-1][j])
				require.LessOrEqual(t, step, lim.Vel[j]*period*1.01+1e-9, "position step, tick %d joint %d", k, j)
			}
		}
	}
	require.Positive(t, moved, "the residual corrected some commands")
}

func TestParamsFile(t *testing.T) {
	p, err := Shipped()
	require.NoError(t, err)
	require.Len(t, p.Theta, NParams)
	require.Contains(t, policy.Classes(), ClassName)
	path := filepath.Join(t.TempDir(), "p.json")
	q := p.Clone()
	q.Theta[3] = 0.5
	require.NoError(t, q.Save(path))
	r, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, q.Theta, r.Theta)
	q.Theta = q.Theta[:3]
	require.Error(t, q.Validate())
	q = p.Clone()
	q.Theta[0] = math.NaN()
	require.ErrorContains(t, q.Validate(), "θ[0]")
	_, err = LoadFile(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)
	require.Error(t, Config{Params: filepath.Join(t.TempDir(), "missing.json")}.Validate())
	es, err := policy.Shipped()
	require.NoError(t, err)
	require.NoError(t, es.Save(path))
	require.ErrorContains(t, Config{Params: path}.Validate(), "class")
	_, err = New("fused", Config{}, mpc.Config{Async: true}, testRobot(t), sim.DefaultReadyQ, period)
	require.ErrorContains(t, err, "async")
}

// The trainer builds the class's agent and moves θ with BGS.
func TestTrainsThroughPolicyTrainer(t *testing.T) {
	rob := testRobot(t)
	cfg := policy.TrainConfig{Policy: ClassName, Scenarios: []string{"light-ball"}, Iterations: 1, Perturbations: 2,
		EpisodesPerDirection: 1, EvalEvery: 1, EvalEpisodes: 2, Workers: 2, Sigma: 0.5, StepSize: 0.2}
	tr, err := policy.NewTrainer(cfg, rob, sim.Config{}, 3)
	require.NoError(t, err)
	_, err = tr.Step(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, make([]float64, NParams), tr.State().Policy.Params(), "one step moved θ")
	a, err := policy.NewAgent(tr.Result(), rob, 250)
	require.NoError(t, err)
	require.Equal(t, ClassName, a.Name())
}

// BenchmarkStep replays the inputs of a light-ball trial (both mechanisms
// on, a residual that moves) through Step: ns/op and allocs/op are per
// control step; cpu-µs/step is the process's CPU time per step and
// p99-cpu-µs/step the 99th percentile of each step's thread CPU time
// (re-plans included; as sim's compute_ms, unaffected by other processes).
func BenchmarkStep(b *testing.B) {
	rob := testRobot(b)
	th := residualTheta()
	th[3*(NContext+1)] = 0.3 // catch_rel_speed through the ball's speed
	l, _ := runLockstep(b, rob, "light-ball", 1, Config{}, th)
	c := newFused(b, rob, Config{}, th)
	n := rob.Chain.DOF()
	out := control.NewCommand(n)
	reset := control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}
	times := make([]int64, 0, 64*len(l.inputs))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(l.inputs)
		if k == 0 {
			b.StopTimer()
			if err := c.Reset(reset); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		t0 := cputime.Thread()
		_, err := c.Step(&l.inputs[k], &out)
		dt := cputime.Thread() - t0
		if err != nil {
			b.Fatal(err)
		}
		if len(times) < cap(times) {
			times = append(times, dt)
		}
	}
	b.StopTimer()
	// The process's CPU time per step: on a loaded machine the wall times
	// (ns/op, p99) also count the time other processes held the core.
	b.ReportMetric(float64(processCPU()-c0)/1e3/float64(b.N), "cpu-µs/step")
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	if len(times) > 0 {
		b.ReportMetric(float64(times[len(times)*99/100])/1e3, "p99-cpu-µs/step")
	}
}

// Step allocates nothing once the controller is set up (a whole trial).
// runtime.MemStats counts the whole process's allocations, so a window
// may catch the runtime's own (under load one in a few runs did): the
// same trial is replayed up to three times, and Step allocating would
// show in every replay.
func TestStepAllocs(t *testing.T) {
	rob := testRobot(t)
	n := rob.Chain.DOF()
	out := control.NewCommand(n)
	reset := control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}
	// allocs replays the inputs of l through c (after one replay that
	// grows the MPC's prediction table) and returns the fewest
	// allocations of up to three replays.
	allocs := func(c *Controller, l *lockstep) uint64 {
		steps := func() {
			for k := range l.inputs {
				if _, err := c.Step(&l.inputs[k], &out); err != nil {
					t.Fatal(err)
				}
			}
		}
		require.NoError(t, c.Reset(reset))
		steps()
		best := uint64(math.MaxUint64)
		for try := 0; try < 3 && best > 0; try++ {
			// Reset (once per trial) may allocate; the steps of a trial may not.
			require.NoError(t, c.Reset(reset))
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			steps()
			runtime.ReadMemStats(&m1)
			best = min(best, m1.Mallocs-m0.Mallocs)
		}
		return best
	}
	th := residualTheta()
	th[3*(NContext+1)] = 0.3
	l, _ := runLockstep(t, rob, "light-ball", 1, Config{}, th)
	require.Zero(t, allocs(newFused(t, rob, Config{}, th), l), "allocations in %d steps", len(l.inputs))
	// the gate handing the throw to the ES policy
	l, _ = runLockstep(t, rob, "fast", 1, Config{}, gateTheta(1))
	c := newFused(t, rob, Config{}, gateTheta(1))
	require.Zero(t, allocs(c, l), "allocations in %d steps, ES branch", len(l.inputs))
	require.True(t, c.UsesES())
	// the shipped gate waiting for a settled estimate, then the MPC
	// taking over from the ES policy (a central throw)
	l, _ = runLockstep(t, rob, "nominal", 1, Config{}, nil)
	c = newFused(t, rob, Config{}, nil)
	require.Zero(t, allocs(c, l), "allocations in %d steps, MPC taking over", len(l.inputs))
	require.False(t, c.UsesES())
	require.True(t, c.sentOK, "the ES policy flew the ball before the MPC took over")
	// mpc_first: the ES policy taking over from the MPC (off the centre)
	th = gateTheta(-5)
	th[offGate+NContext+2] = 10
	l, _ = runLockstep(t, rob, "laggy", 0, Config{MPCFirst: true}, th)
	c = newFused(t, rob, Config{MPCFirst: true}, th)
	require.Zero(t, allocs(c, l), "allocations in %d steps, ES taking over", len(l.inputs))
	require.True(t, c.UsesES())
}

// processCPU returns the process's user + system CPU time, ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// The named subsets of θ for fine-tuning: each index once and inside its
// block; decisive is the gate's bias and its λ and ς weights, six
// tunables' biases and the residual window.
func TestFreeSet(t *testing.T) {
	for name, n := range map[string]int{"gate": nGateW, "tunables": NTunables, "residual": nResW + 1, "decisive": 10} {
		idx, err := FreeSet(name)
		require.NoError(t, err, name)
		require.Len(t, idx, n, name)
		seen := map[int]bool{}
		for _, i := range idx {
			require.False(t, seen[i], "%s: %d twice", name, i)
			seen[i] = true
			require.True(t, i >= 0 && i < NParams, "%s: %d", name, i)
		}
	}
	idx, err := FreeSet("decisive")
	require.NoError(t, err)
	require.Subset(t, idx, []int{offGate + NContext + 2, offGate + NContext + 3, offGate + nGateW - 1, offWin})
	names := TunableNames()
	var biased []string
	for _, i := range idx {
		if i < nCtxW {
			require.Equal(t, NContext, i%(NContext+1), "index %d is a bias", i)
			biased = append(biased, names[i/(NContext+1)])
		}
	}
	require.ElementsMatch(t, []string{"catch_x_shift_m", "catch_speed_mps", "catch_rel_speed_mps", "slow_down_s", "net_up_rad", "action_latency_s"}, biased)
	_, err = FreeSet("wings")
	require.Error(t, err)
}

// With mpc_first the MPC drives until the gate decides and the ES policy
// steps in the shadow. A throw the gate keeps with the MPC is flown as
// the MPC alone flies it, bit for bit on every tick (θ here is a gate
// alone, the tunables at the MPC's defaults; the shipped θ against the
// MPC branch with the gate off); a throw handed to the ES policy is flown
// by the MPC until the decision and from then on by the ES policy, taking
// over from the MPC's last command: the fused controller's commands are
// those of an ES policy that stepped on the same inputs and was rebased
// there (policy.Controller.Rebase), they continue the MPC's within the
// joint limits, and they leave the MPC's.
func TestMPCFirst(t *testing.T) {
	rob := testRobot(t)
	n := rob.Chain.DOF()
	th := gateTheta(-5)
	th[offGate+NContext+2] = 10 // λ: off the centre to the ES policy
	cfg := Config{MPCFirst: true}
	kept, handed := 0, 0
	for _, tc := range []struct {
		scenario string
		trial    int
	}{{"laggy", 0}, {"laggy", 3}, {"nominal", 1}, {"nominal", 4}, {"fast", 2}} {
		name := fmt.Sprintf("%s %d", tc.scenario, tc.trial)
		l, res := runLockstep(t, rob, tc.scenario, tc.trial, cfg, th)
		require.True(t, res.Catchable, name)
		from := -1
		for k := range l.inputs {
			if l.inputs[k].Ball.Valid && l.inputs[k].Ball.NObs >= gateMinObs {
				from = k
				break
			}
		}
		require.Positive(t, from, "%s: the gate decided", name)
		if !l.f.UsesES() {
			kept++
			for k := range l.fq {
				require.Equal(t, l.mq[k], l.fq[k], "%s: tick %d", name, k)
				require.Equal(t, l.mqd[k], l.fqd[k], "%s: tick %d", name, k)
			}
			_, alone := runLockstep(t, rob, tc.scenario, tc.trial, Config{NoGate: true}, th)
			require.Equal(t, alone, res, name)
			continue
		}
		handed++
		for k := 0; k < from; k++ {
			require.Equal(t, l.mq[k], l.fq[k], "%s: the MPC drove until the decision, tick %d", name, k)
		}
		p, err := policy.Shipped()
		require.NoError(t, err)
		es, err := policy.NewAgent(p, rob, 1/period)
		require.NoError(t, err)
		reset := control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}
		require.NoError(t, es.Reset(reset))
		out := control.NewCommand(n)
		differs := false
		for k := range l.inputs {
			if k == from {
				acc := make([]float64, n)
				for j := range acc {
					acc[j] = (l.fqd[k-1][j] - l.fqd[k-2][j]) / period
				}
				es.(esRebaser).Rebase(l.fq[k-1], l.fqd[k-1], acc)
			}
			_, err := es.Step(&l.inputs[k], &out)
			require.NoError(t, err)
			if k < from {
				continue
			}
			require.Equal(t, out.Q, l.fq[k], "%s: the ES policy flies from the decision, tick %d", name, k)
			require.Equal(t, out.Qd, l.fqd[k], "%s: tick %d", name, k)
			if k < from+5 {
				for j := range l.fq[k] {
					dq := math.Abs(l.fq[k][j] - l.fq[k-1][j])
					require.LessOrEqual(t, dq, 1.05*rob.Limits.Vel[j]*period, "%s: tick %d joint %d", name, k, j)
				}
			}
			if !slices.Equal(l.mq[k], l.fq[k]) {
				differs = true
			}
		}
		require.True(t, differs, "%s: the ES policy's commands are not the MPC's", name)
	}
	require.Positive(t, kept, "throws kept with the MPC")
	require.Positive(t, handed, "throws handed to the ES policy")
	// the shipped θ: a central nominal throw stays with the MPC, flown as
	// the MPC branch flies it with the gate off
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	ref, err := New("ref", Config{NoGate: true}, mpc.Config{}, rob, sim.DefaultReadyQ, period)
	require.NoError(t, err)
	w, err := sim.NewWorld(sim.Config{}, rob, sc)
	require.NoError(t, err)
	defer w.Close()
	l := &lockstep{f: newFused(t, rob, cfg, nil), m: ref, mo: control.NewCommand(n)}
	var res sim.TrialResult
	require.NoError(t, sim.RunTrial(w, l, sc, 7, 1, &res))
	require.False(t, l.f.UsesES())
	require.True(t, l.f.sentOK, "the MPC drove before the decision")
	for k := range l.fq {
		require.Equal(t, l.mq[k], l.fq[k], "shipped θ: tick %d", k)
		require.Equal(t, l.mqd[k], l.fqd[k], "shipped θ: tick %d", k)
	}
	// an ES policy of the paper class can take over too; one of a class
	// without Rebase (a fused parameter file) is refused
	dir := t.TempDir()
	pp, err := policy.ShippedPaper()
	require.NoError(t, err)
	paper := filepath.Join(dir, "paper.json")
	require.NoError(t, pp.Save(paper))
	_, err = New("fused", Config{MPCFirst: true, ESPolicy: paper}, mpc.Config{}, rob, sim.DefaultReadyQ, period)
	require.NoError(t, err)
	fp, err := Shipped()
	require.NoError(t, err)
	fpath := filepath.Join(dir, "fused.json")
	require.NoError(t, fp.Save(fpath))
	_, err = New("fused", Config{MPCFirst: true, ESPolicy: fpath}, mpc.Config{}, rob, sim.DefaultReadyQ, period)
	require.ErrorContains(t, err, "mpc_first")
	_, err = New("fused", Config{ESPolicy: fpath}, mpc.Config{}, rob, sim.DefaultReadyQ, period)
	require.NoError(t, err, "ES first needs no Rebase")
}

// The θ shipped for MuJoCo is the kinematic one with the gate fine-tuned
// in MuJoCo (`catch finetune fused --free gate`): only the gate's
// entries differ. ShippedFor refuses other engines, and Config.Load and
// Validate follow Config.Shipped.
func TestShippedFor(t *testing.T) {
	kin, err := ShippedFor("kinematic")
	require.NoError(t, err)
	def, err := Shipped()
	require.NoError(t, err)
	require.Equal(t, def.Theta, kin.Theta)
	mj, err := ShippedFor("mujoco")
	require.NoError(t, err)
	require.Len(t, mj.Theta, NParams)
	require.NotNil(t, mj.Trained, "the fine-tuned θ records how it was made")
	gate, err := FreeSet("gate")
	require.NoError(t, err)
	isGate := map[int]bool{}
	for _, i := range gate {
		isGate[i] = true
	}
	changed := 0
	for i := range kin.Theta {
		if kin.Theta[i] != mj.Theta[i] {
			require.True(t, isGate[i], "index %d is not the gate's", i)
			changed++
		}
	}
	require.Positive(t, changed)
	_, err = ShippedFor("bullet")
	require.ErrorContains(t, err, "bullet")
	require.ErrorContains(t, Config{Shipped: "bullet"}.Validate(), "fused.shipped")
	p, err := Config{Shipped: "mujoco"}.Load()
	require.NoError(t, err)
	require.Equal(t, mj.Theta, p.Theta)
}
