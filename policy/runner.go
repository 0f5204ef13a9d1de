package policy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// Rollouts leave the trainer as batches of self-describing tasks, so they
// can be flown in this process (LocalRunner, the default) or anywhere else
// (package dist: workers on a NATS JetStream cluster). A task names its
// throw by seeds and its parameters by a perturbation direction, so a
// batch is small: the Spec (run settings, seed, step, the policy with its
// normaliser) once, then a few integers per rollout. Results come back in
// task order, and the trainer reduces them in that order, so a run is
// bit-identical for a seed whatever flies the tasks (docs/distributed.md).

// Spec is what every task of a batch shares: enough for a worker on any
// machine with the same robot description to rebuild the worlds and the
// controller.
type Spec struct {
	// Run is the training and simulator configuration (scenarios,
	// randomisation, reward, perturbation count and σ, engine name).
	Run *RunSettings `json:"run"`
	// Seed is the run's seed: throws and directions are drawn from it.
	Seed uint64 `json:"seed"`
	// Iter is the BGS step whose directions and training throws the tasks
	// use.
	Iter int `json:"iter"`
	// Policy is the policy the tasks fly: its parameters θ (perturbed per
	// task) and observation normaliser as of this batch.
	Policy *Policy `json:"policy"`
}

// Task streams: training rollouts are domain-randomised and record their
// observations for the normaliser; eval rollouts are neither, and draw
// the same throws at every step.
const (
	StreamTrain = 0
	StreamEval  = 1
)

// Task is one rollout of a batch.
type Task struct {
	// Stream is StreamTrain or StreamEval.
	Stream int `json:"stream"`
	// Rollout indexes the throw within (Stream, Spec.Iter): the rollout
	// source is rolloutRand(Seed, Stream, Iter, Rollout) (Iter 0 in eval).
	Rollout int `json:"rollout"`
	// Scenario names the throw distribution; empty: drawn from the
	// training mix by the rollout source.
	Scenario string `json:"scenario,omitempty"`
	// Dir is the perturbation direction of step Spec.Iter (Directions);
	// −1 flies Spec.Policy's parameters unperturbed.
	Dir int `json:"dir"`
	// Sign of the perturbation: +1 or −1 (θ ± σ·δ_Dir).
	Sign int `json:"sign,omitempty"`
}

// Result is one rollout's outcome.
type Result struct {
	Reward float64 `json:"reward"`
	Caught bool    `json:"caught"`
	// Obs are the observation statistics of a training rollout (nil in
	// eval).
	Obs *ObsStats `json:"obs,omitempty"`
}

// Batch is a Spec and its tasks.
type Batch struct {
	Spec  *Spec  `json:"spec"`
	Tasks []Task `json:"tasks"`
}

// Runner flies batches: Run fills out[i] with the result of b.Tasks[i]
// (len(out) == len(b.Tasks)) or returns an error. Results must not depend
// on how the runner spreads the tasks.
type Runner interface {
	Run(ctx context.Context, b *Batch, out []Result) error
}

// SetRunner makes the trainer fly its rollouts through r (nil: the
// in-process LocalRunner it was built with).
func (t *Trainer) SetRunner(r Runner) {
	if r == nil {
		r = t.local
	}
	t.runner = r
}

// Directions returns the orthogonal Gaussian perturbations of step iter
// of a run seeded by seed: P Gaussian vectors of length D orthogonalised
// by Gram–Schmidt and rescaled to the norms of the original draws (so
// each is marginally like a Gaussian vector, and they are mutually
// orthogonal). dst is reused when it has the right shape.
func Directions(dst [][]float64, seed uint64, iter, P, D int) [][]float64 {
	if len(dst) != P || (P > 0 && len(dst[0]) != D) {
		dst = make([][]float64, P)
		for k := range dst {
			dst[k] = make([]float64, D)
		}
	}
	rng := rand.New(rand.NewPCG(seed^0x13198a2e03707344, uint64(iter)))
	norms := make([]float64, P)
	for k, d := range dst {
		var s float64
		for i := range d {
			d[i] = rng.NormFloat64()
			s += d[i] * d[i]
		}
		norms[k] = math.Sqrt(s)
	}
	for k := range dst {
		d := dst[k]
		for m := 0; m < min(k, D); m++ {
			var dot float64
			for i, v := range dst[m] {
				dot += v * d[i]
			}
			for i, v := range dst[m] {
				d[i] -= dot * v
			}
		}
		var s float64
		for _, v := range d {
			s += v * v
		}
		s = math.Sqrt(s)
		for i := range d {
			d[i] /= s
		}
	}
	// Gram–Schmidt above needs unit vectors for the projections; rescale
	// after all are orthonormal.
	for k, d := range dst {
		for i := range d {
			d[i] *= norms[k]
		}
	}
	return dst
}

// FreeDirections is Directions over the coordinates free of a θ of length
// D (TrainConfig.Free): P orthogonal Gaussian directions of length
// len(free) placed at those indices, zero elsewhere. Empty free:
// Directions over all D.
func FreeDirections(seed uint64, iter, P, D int, free []int) [][]float64 {
	if len(free) == 0 {
		return Directions(nil, seed, iter, P, D)
	}
	sub := Directions(nil, seed, iter, P, len(free))
	dst := make([][]float64, P)
	for k, s := range sub {
		dst[k] = make([]float64, D)
		for j, i := range free {
			dst[k][i] = s[j]
		}
	}
	return dst
}

// DirCache holds the directions of the latest (seed, step, P, D, free),
// shared by the flyers of one process so each step's directions are drawn
// once.
type DirCache struct {
	mu         sync.Mutex
	seed       uint64
	iter, p, d int
	free       []int
	dirs       [][]float64
	valid      bool
}

// Get returns the directions of FreeDirections (shared, read-only).
func (c *DirCache) Get(seed uint64, iter, P, D int, free []int) [][]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.seed == seed && c.iter == iter && c.p == P && c.d == D && slices.Equal(c.free, free) {
		return c.dirs
	}
	// Flyers may still read the previous slice: draw into a fresh one.
	c.dirs = FreeDirections(seed, iter, P, D, free)
	c.seed, c.iter, c.p, c.d, c.free, c.valid = seed, iter, P, D, slices.Clone(free), true
	return c.dirs
}

// Flyer flies tasks: it owns one set of worlds and a controller, so a
// process runs one Flyer per core. Not safe for concurrent use.
type Flyer struct {
	rob    *robot.Robot
	engine sim.Engine
	dirs   *DirCache

	run    *RunSettings
	period float64
	mix    []*sim.Scenario
	worlds map[string]*sim.World
	pol    *Policy
	ctrl   Agent
	params []float64
	stats  *ObsStats
	props  ball.Props
}

// NewFlyer returns a flyer of the robot in engine (nil: sim.Kinematic);
// dirs may be shared between the flyers of a process (nil: its own).
func NewFlyer(rob *robot.Robot, engine sim.Engine, dirs *DirCache) *Flyer {
	if dirs == nil {
		dirs = &DirCache{}
	}
	return &Flyer{rob: rob, engine: engine, dirs: dirs}
}

// prepare builds the worlds of run (when run is not the flyer's current
// one) and the controller of pol (when pol is not its current one).
func (f *Flyer) prepare(run *RunSettings, pol *Policy) error {
	if run != f.run {
		rate := run.Sim.ControlRateHz
		if rate == 0 {
			rate = 250
		}
		f.period = 1 / rate
		f.mix = f.mix[:0]
		f.worlds = map[string]*sim.World{}
		for _, name := range append(append([]string(nil), run.Train.Scenarios...), run.Train.EvalScenario) {
			if name == "" {
				continue
			}
			if _, err := f.world(run, name); err != nil {
				return err
			}
		}
		for _, name := range run.Train.Scenarios {
			sc, err := sim.Lookup(name)
			if err != nil {
				return err
			}
			f.mix = append(f.mix, sc)
		}
		f.run, f.pol = run, nil
	}
	if pol != f.pol {
		ctrl, err := NewAgent(pol, f.rob, 1/f.period)
		if err != nil {
			return err
		}
		f.ctrl, f.pol = ctrl, pol
		f.params = make([]float64, len(pol.Params()))
		f.stats = NewObsStats(pol.ObsLen())
	}
	return nil
}

func (f *Flyer) world(run *RunSettings, name string) (*sim.World, error) {
	if w := f.worlds[name]; w != nil {
		return w, nil
	}
	sc, err := sim.Lookup(name)
	if err != nil {
		return nil, err
	}
	w, err := sim.NewWorldEngine(run.Sim, f.rob, sc, f.engine)
	if err != nil {
		return nil, err
	}
	f.worlds[name] = w
	return w, nil
}

// Fly flies one task of spec into res.
func (f *Flyer) Fly(spec *Spec, task Task, res *Result) error {
	if err := f.prepare(spec.Run, spec.Policy); err != nil {
		return err
	}
	iter := spec.Iter
	if task.Stream == StreamEval {
		iter = 0
	}
	rng := rolloutRand(spec.Seed, task.Stream, iter, task.Rollout)
	var sc *sim.Scenario
	switch {
	case task.Scenario != "":
		var err error
		if sc, err = sim.Lookup(task.Scenario); err != nil {
			return err
		}
	case len(f.mix) == 0:
		return fmt.Errorf("policy: task names no scenario and the run has no training mix")
	default:
		sc = f.mix[0]
		if len(f.mix) > 1 {
			sc = f.mix[rng.IntN(len(f.mix))]
		}
	}
	params := spec.Policy.Params()
	if task.Dir >= 0 {
		P, D := spec.Run.Train.Perturbations, len(params)
		if task.Dir >= P || (task.Sign != 1 && task.Sign != -1) {
			return fmt.Errorf("policy: task direction %d sign %d, want [0, %d) and ±1", task.Dir, task.Sign, P)
		}
		d := f.dirs.Get(spec.Seed, spec.Iter, P, D, spec.Run.Train.Free)[task.Dir]
		sign, sigma := float64(task.Sign), spec.Run.Train.SigmaAt(spec.Iter)
		for i := range f.params {
			f.params[i] = params[i] + sign*sigma*d[i]
		}
		params = f.params
	}
	train := task.Stream == StreamTrain
	if train {
		f.stats.Reset()
	}
	r, caught, err := f.fly(spec.Run, sc, rng, params, train)
	if err != nil {
		return err
	}
	*res = Result{Reward: r, Caught: caught}
	if train {
		res.Obs = NewObsStats(len(f.stats.Sum))
		res.Obs.Merge(f.stats)
	}
	return nil
}

// fly runs one episode; a training episode is domain-randomised and
// records its observations into f.stats.
func (f *Flyer) fly(run *RunSettings, sc *sim.Scenario, rng *rand.Rand, params []float64, train bool) (float64, bool, error) {
	world, err := f.world(run, sc.Name)
	if err != nil {
		return 0, false, err
	}
	th := sc.Sample(rng)
	ctrl := f.ctrl
	ctrl.SetPropsOverride(nil)
	if train {
		r := &run.Train.Random
		u := func() float64 { return 2*rng.Float64() - 1 }
		th.ActLatS = math.Max(0, th.ActLatS+r.ActionLatencyMS/1000*u())
		th.Obs.LatencyMS = math.Max(0, th.Obs.LatencyMS+r.ObsLatencyMS*u())
		th.Obs.NoiseM *= 1 + r.ObsNoise*u()
		f.props = th.Ball
		f.props.Cd *= 1 + r.ModelDrag*u()
		th.Ball.Cd *= 1 + r.Drag*u()
		th.Ball.Mass *= 1 + r.Mass*u()
		th.Ball.Cl *= 1 + r.Lift*u()
		ctrl.SetPropsOverride(&f.props)
	}
	ctrl.SetParams(params)
	if train {
		ctrl.SetRecord(f.stats)
	} else {
		ctrl.SetRecord(nil)
	}
	res := sim.TrialResult{Scenario: th.Scenario}
	err = world.Trial(&th, ctrl, rng, &res)
	world.StepMS = world.StepMS[:0]
	ctrl.SetRecord(nil)
	if err != nil {
		return 0, false, err
	}
	return run.Train.Reward.Reward(&res, ctrl.Stats(), f.period), res.Caught, nil
}

// LocalRunner flies batches on goroutines in this process, one Flyer
// each.
type LocalRunner struct {
	flyers []*Flyer
}

// NewLocalRunner returns a runner of n flyers (n ≤ 0: GOMAXPROCS) of the
// robot in engine (nil: sim.Kinematic).
func NewLocalRunner(rob *robot.Robot, engine sim.Engine, n int) *LocalRunner {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	dirs := &DirCache{}
	r := &LocalRunner{}
	for k := 0; k < n; k++ {
		r.flyers = append(r.flyers, NewFlyer(rob, engine, dirs))
	}
	return r
}

// Prepare builds every flyer's worlds and controller for spec ahead of
// the first batch (so configuration errors surface early).
func (r *LocalRunner) Prepare(spec *Spec) error {
	for _, f := range r.flyers {
		if err := f.prepare(spec.Run, spec.Policy); err != nil {
			return err
		}
	}
	return nil
}

// Run implements Runner.
func (r *LocalRunner) Run(ctx context.Context, b *Batch, out []Result) error {
	if len(out) != len(b.Tasks) {
		return fmt.Errorf("policy: %d result slots for %d tasks", len(out), len(b.Tasks))
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	n := len(b.Tasks)
	for _, f := range r.flyers {
		wg.Add(1)
		go func(f *Flyer) {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || ctx.Err() != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f.Fly(b.Spec, b.Tasks[i], &out[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}(f)
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
