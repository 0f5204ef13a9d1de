package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/forecast/ort"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// TestMain loads the real ONNX Runtime once (a missing library fails the
// package, it is not a skip: `make deps` installs it).
func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		os.Stderr.WriteString("policy: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	_ = ort.Shutdown()
	os.Exit(code)
}

func defaultRobot(t testing.TB) *robot.Robot {
	rob, err := robot.Default()
	require.NoError(t, err)
	return rob
}

// noisyPolicy is the prior with a large random MLP residual, to stress the
// decode (limits must hold whatever the network asks for).
func noisyPolicy(seed uint64, scale float64) *Policy {
	p := NewPolicy(FeatureConfig{}, 16, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := nStruct; i < len(p.Net.Params); i++ {
		p.Net.Params[i] = scale * rng.NormFloat64()
	}
	return p
}

func TestShippedPolicyValid(t *testing.T) {
	p, err := Shipped()
	require.NoError(t, err)
	require.LessOrEqual(t, len(p.Net.Params), 5000, "the issue caps the network at 5k parameters")
	require.NotNil(t, p.Trained, "the shipped policy records its training run")
}

func TestPolicyFileRoundTrip(t *testing.T) {
	p := noisyPolicy(1, 0.3)
	path := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, p.Save(path))
	q, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, p.Net.Params, q.Net.Params)
	require.Equal(t, p.Features, q.Features)

	// unknown fields and inconsistent sizes are rejected with the field named
	_, err = ParsePolicy([]byte(`{"version":1,"bogus":1}`))
	require.ErrorContains(t, err, "bogus")
	bad := p.Clone()
	bad.Net.Params = bad.Net.Params[:10]
	data, err := json.Marshal(bad)
	require.NoError(t, err)
	_, err = ParsePolicy(data)
	require.ErrorContains(t, err, "params")

	// a file of an unknown class is rejected naming it; no class means
	// structured (files from before classes)
	other := p.Clone()
	other.Class = "bogus"
	data, err = json.Marshal(other)
	require.NoError(t, err)
	_, err = ParsePolicy(data)
	require.ErrorContains(t, err, "bogus")
	require.Equal(t, ClassStructured, q.ClassName())
	a, err := NewAgent(q, defaultRobot(t), 250)
	require.NoError(t, err)
	require.Equal(t, "es", a.Name())
}

func TestRewardTerms(t *testing.T) {
	var rc RewardConfig
	rc.setDefaults()
	const period = 0.004
	cases := []struct {
		name   string
		res    sim.TrialResult
		lo, hi float64
	}{
		{"far miss scores nothing", sim.TrialResult{MissDistanceM: 0.5, AlignCos: 1}, 0, 0},
		{"at the cutoff scores nothing", sim.TrialResult{MissDistanceM: 0.2}, 0, 1e-12},
		{"dead centre, facing", sim.TrialResult{MissDistanceM: 0, AlignCos: 1}, 1.5, 1.5},
		{"caught and settled", sim.TrialResult{MissDistanceM: 0, AlignCos: 1, InPocketS: 0.3, SlowInPocketS: 0.3, Caught: true}, 4.5, 4.5},
		{"limit violation", sim.TrialResult{MissDistanceM: 0.5, LimitViolations: 2}, -2, -2},
	}
	for _, c := range cases {
		r := rc.Reward(&c.res, Stats{}, period)
		// 1e-9: the terms are closed-form sums
		require.GreaterOrEqual(t, r, c.lo-1e-9, c.name)
		require.LessOrEqual(t, r, c.hi+1e-9, c.name)
	}
	// closer is better, monotonically, inside the cutoff
	prev := math.Inf(1)
	for d := 0.0; d < 0.2; d += 0.01 {
		r := rc.Reward(&sim.TrialResult{MissDistanceM: d}, Stats{}, period)
		require.Less(t, r, prev)
		prev = r
	}
}

// TestNoLimitViolations flies nominal and hand-lob throws with policies
// whose network output is large and random: the decode must keep every
// command inside the position, velocity and acceleration limits, which the
// simulator checks before its clamp.
func TestNoLimitViolations(t *testing.T) {
	rob := defaultRobot(t)
	for _, name := range []string{"nominal", "hand-lob"} {
		sc, err := sim.Lookup(name)
		require.NoError(t, err)
		// Limits only: the world's safety filter also brakes colliding
		// commands, and a brake is a velocity step the policy did not ask for.
		var cfg sim.Config
		cfg.Safety.Collision.Off = true
		w, err := sim.NewWorld(cfg, rob, sc)
		require.NoError(t, err)
		for i := 0; i < 8; i++ {
			c, err := NewController(noisyPolicy(uint64(i), 2), rob, 250)
			require.NoError(t, err)
			rng := sim.TrialRand(7, i)
			th := sc.Sample(rng)
			var res sim.TrialResult
			require.NoError(t, w.Trial(&th, c, rng, &res))
			require.Zero(t, res.LimitViolations, "%s throw %d", name, i)
			require.Empty(t, res.Error)
		}
	}
}

// actionSequence prepares a controller and a recorded sequence of inputs
// from a nominal trial, for the allocation test and the benchmark.
func actionSequence(t testing.TB) (*Controller, []control.Input) {
	rob := defaultRobot(t)
	pol, err := Shipped()
	require.NoError(t, err)
	c, err := NewController(pol, rob, 250)
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	w, err := sim.NewWorld(sim.Config{}, rob, sc)
	require.NoError(t, err)
	rec := &recorder{Controller: c}
	rng := sim.TrialRand(1, 0)
	th := sc.Sample(rng)
	var res sim.TrialResult
	require.NoError(t, w.Trial(&th, rec, rng, &res))
	require.Greater(t, len(rec.ins), 100)
	return c, rec.ins
}

type recorder struct {
	*Controller
	ins []control.Input
}

func (r *recorder) Step(in *control.Input, out *control.Command) (control.Status, error) {
	cp := *in
	cp.Arm = control.ArmState{Q: append([]float64(nil), in.Arm.Q...), Qd: append([]float64(nil), in.Arm.Qd...)}
	r.ins = append(r.ins, cp)
	return r.Controller.Step(in, out)
}

func TestStepAllocatesNothing(t *testing.T) {
	c, ins := actionSequence(t)
	out := control.NewCommand(7)
	require.NoError(t, c.Reset(control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, 7)}))
	i := 0
	allocs := testing.AllocsPerRun(len(ins)-1, func() {
		_, _ = c.Step(&ins[i%len(ins)], &out)
		i++
	})
	require.Zero(t, allocs)
}

// BenchmarkAction is one policy action (observation building with the
// cached plan and the re-plan on each new estimate, network, decode),
// averaged over the ticks of a recorded nominal trial.
func BenchmarkAction(b *testing.B) {
	c, ins := actionSequence(b)
	out := control.NewCommand(7)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(ins) == 0 {
			_ = c.Reset(control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, 7)})
		}
		if _, err := c.Step(&ins[i%len(ins)], &out); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestONNXMatchesNative(t *testing.T) {
	p := noisyPolicy(5, 0.5)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range p.Net.ObsMean {
		p.Net.ObsMean[i] = rng.NormFloat64()
		p.Net.ObsStd[i] = 0.5 + rng.Float64()
	}
	model, err := p.Net.ExportONNX()
	require.NoError(t, err)
	in := p.Net.In
	s, err := ort.NewSession(model, []ort.Tensor{{Name: ONNXInput, Shape: []int64{1, int64(in)}}},
		[]ort.Tensor{{Name: ONNXOutput, Shape: []int64{1, 7}}}, ort.Config{})
	require.NoError(t, err)
	defer s.Close()
	obs := make([]float64, in)
	norm, hid, want := make([]float64, in), make([]float64, p.Net.Hidden), make([]float64, 7)
	for trial := 0; trial < 20; trial++ {
		for k := range obs {
			// float32-exact inputs, so only the network's arithmetic differs
			obs[k] = float64(float32(p.Net.ObsMean[k] + 2*rng.NormFloat64()))
			s.Input(0)[k] = float32(obs[k])
		}
		p.Net.MLP(p.Net.Params, obs, norm, hid, want)
		require.NoError(t, s.Run())
		for o := 0; o < 7; o++ {
			// 1e-5: float32 ONNX vs float64 Go over a 2-layer net with
			// outputs of order 1 (float32 rounding is ~1e-7 per op)
			require.InDelta(t, want[o], float64(s.Output(0)[o]), 1e-5, "trial %d output %d", trial, o)
		}
	}
}

func tinyTrainConfig(workers int) TrainConfig {
	return TrainConfig{Iterations: 2, Perturbations: 3, EpisodesPerDirection: 1, Hidden: 4, EvalEvery: 2,
		EvalEpisodes: 2, Workers: workers, Sigma: 0.1, StepSize: 0.05}
}

// TestTrainerDeterministic: the same seed gives the same parameters for
// any number of workers, and a run resumed from a checkpoint continues
// exactly as an uninterrupted one.
func TestTrainerDeterministic(t *testing.T) {
	rob := defaultRobot(t)
	ctx := context.Background()
	run := func(workers, steps int) *Trainer {
		tr, err := NewTrainer(tinyTrainConfig(workers), rob, sim.Config{}, 3)
		require.NoError(t, err)
		for i := 0; i < steps; i++ {
			_, err := tr.Step(ctx)
			require.NoError(t, err)
		}
		return tr
	}
	a, b := run(1, 2), run(2, 2)
	require.Equal(t, a.st.Policy.Net.Params, b.st.Policy.Net.Params)
	require.Equal(t, a.st.Policy.Net.ObsMean, b.st.Policy.Net.ObsMean)
	require.NotEqual(t, NewPolicy(FeatureConfig{}, 4, 3).Net.Params, a.st.Policy.Net.Params, "training moved θ")

	half := run(2, 1)
	path := filepath.Join(t.TempDir(), "ckpt")
	require.NoError(t, half.Checkpoint(path))
	res, err := ResumeTrainer(tinyTrainConfig(1), rob, sim.Config{}, path, ResumeOptions{Seed: half.st.Seed})
	require.NoError(t, err)
	_, err = res.Step(ctx)
	require.NoError(t, err)
	require.Equal(t, a.st.Policy.Net.Params, res.st.Policy.Net.Params)
	require.Equal(t, a.st.Episodes, res.st.Episodes)
	require.Len(t, res.st.History, 2)

	// logs: CSV with a header and one line per step, PNG curve
	dir := t.TempDir()
	require.NoError(t, WriteCSV(filepath.Join(dir, "t.csv"), res.st.History))
	data, err := os.ReadFile(filepath.Join(dir, "t.csv"))
	require.NoError(t, err)
	require.Equal(t, 3, bytes.Count(data, []byte("\n")))
	require.NoError(t, WritePlot(filepath.Join(dir, "t.png"), res.st.History))
	png, err := os.ReadFile(filepath.Join(dir, "t.png"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")))
}

// TestExternalLoop runs one sim-to-real fine-tuning step with the simulator
// playing the external evaluator: the trainer writes the perturbed policies,
// the "arm" flies each (through the es controller built from the file) and
// logs JSONL trial results with the policy id, and the trainer steps from
// the logs. The update must be the BGS update of those returns.
func TestExternalLoop(t *testing.T) {
	rob := defaultRobot(t)
	cfg := tinyTrainConfig(1)
	tr, err := NewTrainer(cfg, rob, sim.Config{}, 11)
	require.NoError(t, err)
	theta0 := append([]float64(nil), tr.st.Policy.Net.Params...)
	dir := t.TempDir()
	ids, err := tr.WriteCandidates(dir)
	require.NoError(t, err)
	require.Len(t, ids, 2*tr.cfg.Perturbations)

	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	var logs bytes.Buffer
	returns := map[string]float64{}
	for _, id := range ids {
		pol, err := LoadFile(filepath.Join(dir, id+".json"))
		require.NoError(t, err)
		_, results, err := sim.Run(context.Background(), sim.RunOptions{Scenario: sc, Robot: rob, Trials: 2, Seed: 5, Workers: 1,
			NewController: func() (control.Controller, error) { return NewController(pol, rob, 250) }})
		require.NoError(t, err)
		for i := range results {
			line, err := json.Marshal(TrialLog{PolicyID: id, TrialResult: results[i]})
			require.NoError(t, err)
			logs.Write(append(line, '\n'))
			returns[id] += tr.cfg.Reward.Reward(&results[i], Stats{}, tr.period) / 2
		}
	}
	// a log missing a candidate is rejected, naming it
	_, err = tr.StepFromLogs(bytes.NewReader(nil))
	require.ErrorContains(t, err, ids[0])

	is, err := tr.StepFromLogs(bytes.NewReader(logs.Bytes()))
	require.NoError(t, err)
	require.Equal(t, 1, is.Iteration)
	require.EqualValues(t, 2*len(ids), is.Episodes)

	// expected update from the same returns
	exp := &Trainer{cfg: tr.cfg, st: State{Seed: 11, Policy: &Policy{Net: &Net{Params: append([]float64(nil), theta0...)}}}}
	rp, rm := make([]float64, cfg.Perturbations), make([]float64, cfg.Perturbations)
	for k := range rp {
		rp[k], rm[k] = returns[CandidateID(0, k, true)], returns[CandidateID(0, k, false)]
	}
	exp.update(exp.directions(0), rp, rm)
	for i := range theta0 {
		// 1e-12: same arithmetic, possibly summed in another order
		require.InDelta(t, exp.st.Policy.Net.Params[i], tr.st.Policy.Net.Params[i], 1e-12)
	}
}

func TestDirectionsOrthogonal(t *testing.T) {
	tr := &Trainer{cfg: TrainConfig{Perturbations: 8}, st: State{Seed: 1, Policy: &Policy{Net: &Net{Params: make([]float64, 500)}}}}
	d := tr.directions(0)
	for a := range d {
		for b := 0; b < a; b++ {
			var dot, na, nb float64
			for i := range d[a] {
				dot += d[a][i] * d[b][i]
				na += d[a][i] * d[a][i]
				nb += d[b][i] * d[b][i]
			}
			// 1e-9: Gram–Schmidt in float64 on 8 vectors
			require.InDelta(t, 0, dot/math.Sqrt(na*nb), 1e-9)
		}
	}
	_ = time.Second
}

// TestFreeParams: with TrainConfig.Free the directions are orthogonal
// Gaussian draws over the free indices, zero elsewhere, and a training
// step (in simulation, through the flyers, and from an external
// evaluator's logs) moves only those; bad index sets are refused.
func TestFreeParams(t *testing.T) {
	rob := defaultRobot(t)
	free := []int{3, 40, 7, 100}
	cfg := tinyTrainConfig(1)
	cfg.Free = free
	tr, err := NewTrainer(cfg, rob, sim.Config{}, 11)
	require.NoError(t, err)
	theta0 := append([]float64(nil), tr.st.Policy.Params()...)
	isFree := map[int]bool{}
	for _, i := range free {
		isFree[i] = true
	}
	d := tr.directions(0)
	require.Len(t, d, cfg.Perturbations)
	for a := range d {
		var n float64
		for i, v := range d[a] {
			if !isFree[i] {
				require.Zero(t, v, "direction %d, index %d", a, i)
			}
			n += v * v
		}
		require.Greater(t, n, 0.0)
		for b := 0; b < a; b++ {
			var dot float64
			for i := range d[a] {
				dot += d[a][i] * d[b][i]
			}
			require.InDelta(t, 0, dot, 1e-9)
		}
	}
	_, err = tr.Step(context.Background())
	require.NoError(t, err)
	dir := t.TempDir()
	ids, err := tr.WriteCandidates(dir)
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	var logs bytes.Buffer
	for k, id := range ids {
		pol, err := LoadFile(filepath.Join(dir, id+".json"))
		require.NoError(t, err)
		_, results, err := sim.Run(context.Background(), sim.RunOptions{Scenario: sc, Robot: rob, Trials: 1, Seed: uint64(k), Workers: 1,
			NewController: func() (control.Controller, error) { return NewController(pol, rob, 250) }})
		require.NoError(t, err)
		line, err := json.Marshal(TrialLog{PolicyID: id, TrialResult: results[0]})
		require.NoError(t, err)
		logs.Write(append(line, '\n'))
	}
	_, err = tr.StepFromLogs(bytes.NewReader(logs.Bytes()))
	require.NoError(t, err)
	moved := 0
	for i, v := range tr.st.Policy.Params() {
		if isFree[i] {
			if v != theta0[i] {
				moved++
			}
			continue
		}
		require.Equal(t, theta0[i], v, "index %d is not free", i)
	}
	require.Positive(t, moved, "two steps moved a free index")

	n := len(theta0)
	for _, bad := range [][]int{{0, n}, {-1}, {2, 2, 3, 4}, {1, 2}} {
		c := tinyTrainConfig(1)
		c.Free = bad
		_, err := NewTrainer(c, rob, sim.Config{}, 11)
		require.Error(t, err, "free %v", bad)
	}
}

// TestPolicyShoulderFromURDF: the shoulder pitch axis the catch-point score
// measures reach from comes from the robot description (FK at the ready
// pose), on the shipped arm 0.8 m carriage + 0.29 m link_1.
func TestPolicyShoulderFromURDF(t *testing.T) {
	rob := defaultRobot(t)
	k := shoulderLinkIndex(rob)
	require.GreaterOrEqual(t, k, 0)
	require.Equal(t, "link_2", rob.Chain.LinkNames()[k])
	c, err := NewController(NewPolicy(FeatureConfig{}, 4, 1), rob, 250)
	require.NoError(t, err)
	require.NoError(t, c.Reset(control.ArmState{Q: sim.DefaultReadyQ, Qd: make([]float64, 7)}))
	require.InDelta(t, 1.09, c.shoulderZ, 1e-9)
	require.InDelta(t, 0, c.shoulderX, 1e-9)
}

// A lob that comes down steeply through the catch region (a hand-lob throw the
// policy used to miss): where it falls at 62° the net would have to face
// nearly up, which the arm cannot do there, so the IK target is far off. The
// descent limit moves the catch point a few centimetres up the path, to a
// point the arm reaches with the net facing the ball.
func TestCatchPointDescentLimit(t *testing.T) {
	rob := defaultRobot(t)
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	est := ball.Estimate{Valid: true, State: ball.State{P: ball.Vec{3.14, 0.15, 1.37}, V: ball.Vec{-2.91, -0.61, 4.6}}}
	// headError returns how far the IK solution's head is from the catch point (m) and how
	// far its net normal is from −v̂ at the catch (deg).
	headError := func(maxDeg float64) (float64, float64) {
		c, err := NewController(NewPolicy(FeatureConfig{DescentMaxDeg: maxDeg}, 16, 1), rob, 250)
		require.NoError(t, err)
		q := append([]float64(nil), sim.DefaultReadyQ...)
		require.NoError(t, c.Reset(control.ArmState{Q: q, Qd: make([]float64, len(q))}))
		c.plan(&est, &props, c.params)
		require.True(t, c.has, "no catch point")
		c.chain.FK(c.qIK, &c.pose)
		u := c.pose.Axis(1)
		var pe, dot, sp float64
		for k := 0; k < 3; k++ {
			pe += (c.pose.P[k] - c.pc[k]) * (c.pose.P[k] - c.pc[k])
			dot -= u[k] * c.vc[k]
			sp += c.vc[k] * c.vc[k]
		}
		return math.Sqrt(pe), math.Acos(dot/math.Sqrt(sp)) * 180 / math.Pi
	}
	pl, al := headError(45)
	pf, af := headError(90)
	t.Logf("head error: %.3f m, %.1f° with the limit; %.3f m, %.1f° without", pl, al, pf, af)
	require.Less(t, pl, 0.06)
	require.Less(t, al, 6.0)
	require.Greater(t, pf, 0.15, "without the limit the catch point is out of reach")
}

func TestFeatureConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(c *FeatureConfig)
	}{
		{"n_hist", func(c *FeatureConfig) { c.NHist = 40 }},
		{"pred_dt_s", func(c *FeatureConfig) { c.PredDtS = 0.03 }},
		{"z_min_m", func(c *FeatureConfig) { c.ZMinM = -1 }},
		{"descent_max_deg", func(c *FeatureConfig) { c.DescentMaxDeg = 95 }},
		{"descent_max_deg", func(c *FeatureConfig) { c.DescentMaxDeg = math.NaN() }},
		{"descent_width_deg", func(c *FeatureConfig) { c.DescentWidthDeg = -3 }},
		{"descent_max_deg and descent_width_deg: missing", func(c *FeatureConfig) { c.DescentMaxDeg, c.DescentWidthDeg = 0, 0 }},
		{"spin_fit_min_lift: missing", func(c *FeatureConfig) { c.SpinFitMinLift = 0 }},
		{"spin_fit_min_lift", func(c *FeatureConfig) { c.SpinFitMinLift = 2 }},
		{"freeze_s", func(c *FeatureConfig) { c.FreezeS = 0.6 }},
	} {
		c := FeatureConfig{}
		c.setDefaults()
		require.NoError(t, c.Validate())
		tc.set(&c)
		err := c.Validate()
		require.Error(t, err, tc.field)
		require.Contains(t, err.Error(), "features."+tc.field)
	}
}

// A spinning foam ball reported without its spin (as by an estimator that
// does not track spin): with the spin fit the planned catch point is where
// the ball really passes at the planned time; with the fit off
// (spin_fit_min_lift 1) the plan follows the spinless prediction and is
// off by decimetres.
func TestSpinFitMovesCatchPoint(t *testing.T) {
	rob := defaultRobot(t)
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	catchErr := func(minLift float64) float64 {
		c, err := NewController(NewPolicy(FeatureConfig{SpinFitMinLift: minLift}, 16, 1), rob, 250)
		require.NoError(t, err)
		q := append([]float64(nil), sim.DefaultReadyQ...)
		require.NoError(t, c.Reset(control.ArmState{Q: q, Qd: make([]float64, len(q))}))
		st := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.2, 5}, W: ball.Vec{0, -100, 40}}
		traj := []ball.State{st}
		out := control.NewCommand(len(q))
		in := control.Input{Arm: control.ArmState{Q: q, Qd: make([]float64, len(q))}, Props: &props}
		const dt = 0.004
		for k := 1; k <= 75; k++ { // 0.3 s of estimates, one per tick
			props.Propagate(&st, dt, 0)
			traj = append(traj, st)
			in.Now = time.Duration(float64(k) * dt * float64(time.Second))
			in.Ball = ball.Estimate{Valid: true, T: float64(k) * dt, State: ball.State{P: st.P, V: st.V}, NObs: k}
			_, err := c.Step(&in, &out)
			require.NoError(t, err)
		}
		require.True(t, c.has, "no plan")
		for len(traj) <= int(math.Round(c.tc/dt)) {
			props.Propagate(&st, dt, 0)
			traj = append(traj, st)
		}
		truth := traj[int(math.Round(c.tc/dt))].P
		return math.Sqrt((truth[0]-c.pc[0])*(truth[0]-c.pc[0]) + (truth[1]-c.pc[1])*(truth[1]-c.pc[1]) + (truth[2]-c.pc[2])*(truth[2]-c.pc[2]))
	}
	with, without := catchErr(0.003), catchErr(1)
	t.Logf("catch point vs the true ball at the catch time: %.3f m with the spin fit, %.3f m without", with, without)
	require.Less(t, with, 0.05)
	require.Greater(t, without, 0.15)
}

// TestResumeRefusesOtherSettings: a checkpoint records the settings that
// wrote it; a resume with other scenarios, another seed, another sim config
// or from a checkpoint that records none is refused, naming the difference,
// unless forced (the old ResumeTrainer took any checkpoint: a run labelled
// hand-lob went on from nominal weights).
func TestResumeRefusesOtherSettings(t *testing.T) {
	rob := defaultRobot(t)
	cfg := tinyTrainConfig(1)
	cfg.Iterations = 1
	tr, err := NewTrainer(cfg, rob, sim.Config{}, 3)
	require.NoError(t, err)
	_, err = tr.Step(context.Background())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ckpt")
	require.NoError(t, tr.Checkpoint(path))

	more := cfg
	more.Iterations, more.Workers = 5, 2 // may change on resume
	_, err = ResumeTrainer(more, rob, sim.Config{}, path, ResumeOptions{Seed: 3})
	require.NoError(t, err)

	handLob := cfg
	handLob.Scenarios = []string{"hand-lob"}
	wider := cfg
	wider.Hidden = 8
	for _, tc := range []struct {
		name string
		cfg  TrainConfig
		sim  sim.Config
		seed uint64
		want string
	}{
		{"scenarios", handLob, sim.Config{}, 3, `train.Scenarios: checkpoint ["nominal"], now ["hand-lob"]`},
		{"hidden", wider, sim.Config{}, 3, "train.Hidden: checkpoint 4, now 8"},
		{"seed", cfg, sim.Config{}, 4, "seed: checkpoint 3, now 4"},
		{"sim", cfg, sim.Config{MaxTimeS: 3}, 3, "sim.MaxTimeS: checkpoint 0, now 3"},
	} {
		_, err := ResumeTrainer(tc.cfg, rob, tc.sim, path, ResumeOptions{Seed: tc.seed})
		require.ErrorContains(t, err, tc.want, tc.name)
		res, err := ResumeTrainer(tc.cfg, rob, tc.sim, path, ResumeOptions{Seed: tc.seed, Force: true})
		require.NoError(t, err, tc.name)
		require.Equal(t, 1, res.State().Iteration, "forced: the checkpoint's state goes on")
	}

	// A checkpoint from before the settings were recorded.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &raw))
	delete(raw, "run")
	data, err = json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = ResumeTrainer(cfg, rob, sim.Config{}, path, ResumeOptions{Seed: 3})
	require.ErrorContains(t, err, "records no configuration")
	_, err = ResumeTrainer(cfg, rob, sim.Config{}, path, ResumeOptions{Seed: 3, Force: true})
	require.NoError(t, err)
}

// leadAgent is an external-class agent for the tests: the prior structured
// controller with θ[0] added to its command lead parameter.
type leadAgent struct {
	*Controller
	prior, buf []float64
}

// SetRecord records nothing: the class has no observation normaliser.
func (a *leadAgent) SetRecord(*ObsStats) {}

func (a *leadAgent) SetParams(theta []float64) {
	copy(a.buf, a.prior)
	if theta != nil {
		a.buf[pLead] += theta[0]
	}
	a.Controller.SetParams(a.buf)
}

// TestExternalClass: a class registered from outside the package trains
// through the same trainer (its θ moves), and its files round-trip.
func TestExternalClass(t *testing.T) {
	rob := defaultRobot(t)
	RegisterClass("test-lead", ExternalClass{
		Prior: func(uint64) []float64 { return []float64{0} },
		Validate: func(theta []float64) error {
			if len(theta) != 1 {
				return fmt.Errorf("θ has %d values, want 1", len(theta))
			}
			return nil
		},
		NewAgent: func(pol *Policy, rob *robot.Robot, rate float64) (Agent, error) {
			prior := NewPolicy(FeatureConfig{}, 4, 1)
			c, err := NewController(prior, rob, rate)
			if err != nil {
				return nil, err
			}
			a := &leadAgent{Controller: c, prior: prior.Net.Params, buf: append([]float64(nil), prior.Net.Params...)}
			a.SetParams(pol.Theta)
			return a, nil
		},
	})
	require.Contains(t, Classes(), "test-lead")
	cfg := tinyTrainConfig(2)
	cfg.Policy = "test-lead"
	cfg.Sigma, cfg.StepSize = 1, 0.5
	tr, err := NewTrainer(cfg, rob, sim.Config{}, 5)
	require.NoError(t, err)
	require.Equal(t, []float64{0}, tr.State().Policy.Params())
	require.Zero(t, tr.State().Policy.ObsLen())
	for i := 0; i < 2; i++ {
		_, err := tr.Step(context.Background())
		require.NoError(t, err)
	}
	moved := tr.State().Policy.Params()[0]
	require.NotZero(t, moved, "BGS moved the external class's θ")
	path := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, tr.Result().Save(path))
	p, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, "test-lead", p.Class)
	p.Theta = append(p.Theta, 1)
	require.ErrorContains(t, p.Validate(), "want 1")
}
