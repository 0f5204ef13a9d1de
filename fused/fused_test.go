package fused

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
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

// The shipped gate hands tennis balls from the thrower to the ES policy,
// foam balls and every hand lob (since the MPC's normal_up_rad it catches
// flat and steep lobs too) to the MPC.
func TestShippedGate(t *testing.T) {
	rob := testRobot(t)
	c := newFused(t, rob, Config{}, nil)
	score := func(props string, climb, z float64) float64 {
		p, err := ball.ByName(props)
		require.NoError(t, err)
		sp := 6.0
		est := ball.State{P: ball.Vec{3.5, 0, z}, V: ball.Vec{-sp * math.Sqrt(1-climb*climb), 0, sp * climb}}
		c.context(&est, &p)
		return c.gate(&est)
	}
	require.Positive(t, score("tennis", 0.7, 0.6), "thrower, tennis")
	require.Positive(t, score("tennis", 0.55, 0.6), "thrower, tennis, low climb")
	require.Negative(t, score("foam", 0.75, 0.6), "thrower, foam")
	require.Negative(t, score("foam", 0.95, 0.6), "thrower, foam, steep")
	require.Negative(t, score("tennis", 0.58, 1.3), "hand lob, mid elevation")
	require.Negative(t, score("tennis", 0.35, 1.3), "hand lob, flat")
	require.Negative(t, score("tennis", 0.8, 1.3), "hand lob, steep")
	require.Negative(t, score("tennis", 0.1, 1.3), "hand lob, κ at its clamp")
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
func TestStepAllocs(t *testing.T) {
	rob := testRobot(t)
	th := residualTheta()
	th[3*(NContext+1)] = 0.3
	l, _ := runLockstep(t, rob, "light-ball", 1, Config{}, th)
	c := newFused(t, rob, Config{}, th)
	n := rob.Chain.DOF()
	out := control.NewCommand(n)
	reset := control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, n)}
	steps := func() {
		for k := range l.inputs {
			if _, err := c.Step(&l.inputs[k], &out); err != nil {
				t.Fatal(err)
			}
		}
	}
	require.NoError(t, c.Reset(reset))
	steps() // grows the MPC's prediction table
	// Reset (once per trial) may allocate; the steps of a trial may not.
	require.NoError(t, c.Reset(reset))
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	steps()
	runtime.ReadMemStats(&m1)
	require.Zero(t, m1.Mallocs-m0.Mallocs, "allocations in %d steps", len(l.inputs))
	// the gate handing the throw to the ES policy
	l, _ = runLockstep(t, rob, "fast", 1, Config{}, gateTheta(1))
	c = newFused(t, rob, Config{}, gateTheta(1))
	require.NoError(t, c.Reset(reset))
	steps()
	require.True(t, c.UsesES())
	require.NoError(t, c.Reset(reset))
	runtime.ReadMemStats(&m0)
	steps()
	runtime.ReadMemStats(&m1)
	require.Zero(t, m1.Mallocs-m0.Mallocs, "allocations in %d steps, ES branch", len(l.inputs))
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
// block; decisive is the gate's bias and its speed and η weights, six
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
	require.Subset(t, idx, []int{offGate, offGate + NContext + 1, offGate + nGateW - 1, offWin})
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
