package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// TrainConfig configures the BGS trainer. The zero value means the
// defaults on each field.
type TrainConfig struct {
	// Scenarios are mixed uniformly per episode; default [nominal].
	Scenarios []string `yaml:"scenarios"`
	// Iterations is the number of BGS steps; default 300.
	Iterations int `yaml:"iterations"`
	// Perturbations is the number of antithetic direction pairs per step;
	// default 16.
	Perturbations int `yaml:"perturbations"`
	// EpisodesPerDirection is how many throws each perturbed policy flies
	// (the + and − policy of a pair fly the same throws); default 4.
	EpisodesPerDirection int `yaml:"episodes_per_direction"`
	// Free lists the indices of θ the perturbations move (each direction
	// is a Gaussian draw over these coordinates only, zero elsewhere, so
	// the update leaves the others as they are); empty: all of θ. A
	// fine-tuning budget of a few hundred throws cannot estimate a
	// gradient over hundreds of parameters, but can over a decisive few.
	// Perturbations must not exceed len(Free) (the directions are
	// orthogonal).
	Free []int `yaml:"free" json:",omitempty"`
	// TopFrac is the fraction of directions kept, ranked by max(r+, r−);
	// default 0.5.
	TopFrac float64 `yaml:"top_frac"`
	// StepSize α; default 0.02.
	StepSize float64 `yaml:"step_size"`
	// Sigma is the perturbation scale σ; default 0.03.
	Sigma float64 `yaml:"sigma"`
	// DecayEvery scales σ and α by DecayFactor every so many steps (step
	// decay: step k uses σ·f^⌊k/DecayEvery⌋ and α·f^⌊k/DecayEvery⌋, see
	// SigmaAt and StepSizeAt); default 0: constant. A run that reaches a
	// noise floor (eval success oscillating at a fixed step size) goes on
	// learning with smaller steps.
	DecayEvery int `yaml:"decay_every" json:",omitempty"`
	// DecayFactor is that factor; default 0.5 when DecayEvery is set.
	DecayFactor float64 `yaml:"decay_factor" json:",omitempty"`
	// Policy is the class of a new policy (ClassStructured, the default,
	// stored as empty so checkpoints from before classes resume).
	Policy string `yaml:"policy" json:",omitempty"`
	// Hidden is the MLP width of a new structured policy; default 32.
	Hidden int `yaml:"hidden"`
	// EvalEvery runs the unperturbed policy on the eval batches every so
	// many steps (and once on the prior before the first step); default 5.
	// EvalEpisodes is the batch size per scenario (default 200): one batch
	// of each training scenario, whose mean catch rate (the mix success)
	// selects the best policy, and one of EvalScenario (default nominal;
	// shared with the training batch of that name), whose catch rate is
	// logged as the success rate.
	EvalEvery    int    `yaml:"eval_every"`
	EvalEpisodes int    `yaml:"eval_episodes"`
	EvalScenario string `yaml:"eval_scenario"`
	// CheckpointEvery writes the checkpoint every so many steps; default 10.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// Workers run rollouts in parallel; default GOMAXPROCS. Results do not
	// depend on it.
	Workers int `yaml:"workers"`
	// TargetSuccess stops training once the eval success reaches it
	// (0: run all iterations); default 0.
	TargetSuccess float64      `yaml:"target_success"`
	Reward        RewardConfig `yaml:"reward"`
	Random        RandomConfig `yaml:"randomization"`
	// Engine simulates the training worlds; nil means sim.Kinematic. Set
	// by the caller (catch train es --engine), not from YAML.
	Engine sim.Engine `yaml:"-" json:"-"`
}

// RandomConfig is the per-episode domain randomisation on top of the
// scenario's own throw distribution. The zero value means the defaults;
// a negative value disables a term.
type RandomConfig struct {
	// ActionLatencyMS is the ± range added to the scenario's action latency;
	// default 8.
	ActionLatencyMS float64 `yaml:"action_latency_ms"`
	// ObsLatencyMS is the ± range added to the observation latency; default 4.
	ObsLatencyMS float64 `yaml:"obs_latency_ms"`
	// ObsNoise is the relative ± range of the observation noise σ; default 0.5.
	ObsNoise float64 `yaml:"obs_noise"`
	// Drag is the relative ± range of the ball's drag coefficient, Mass of
	// its mass and Lift of its lift coefficient; defaults 0.1, 0.05, 0.3.
	Drag float64 `yaml:"drag"`
	Mass float64 `yaml:"mass"`
	Lift float64 `yaml:"lift"`
	// ModelDrag is the relative ± error of the drag coefficient the
	// controller's predictor assumes; default 0.05.
	ModelDrag float64 `yaml:"model_drag"`
}

func (c *RandomConfig) setDefaults() {
	def := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&c.ActionLatencyMS, 8)
	def(&c.ObsLatencyMS, 4)
	def(&c.ObsNoise, 0.5)
	def(&c.Drag, 0.1)
	def(&c.Mass, 0.05)
	def(&c.Lift, 0.3)
	def(&c.ModelDrag, 0.05)
}

func (c *TrainConfig) setDefaults() {
	if len(c.Scenarios) == 0 {
		c.Scenarios = []string{"nominal"}
	}
	defI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defI(&c.Iterations, 300)
	defI(&c.Perturbations, 16)
	defI(&c.EpisodesPerDirection, 4)
	defI(&c.Hidden, DefaultHidden)
	defI(&c.EvalEvery, 5)
	defI(&c.EvalEpisodes, 200)
	defI(&c.CheckpointEvery, 10)
	if c.TopFrac == 0 {
		c.TopFrac = 0.5
	}
	if c.StepSize == 0 {
		c.StepSize = 0.02
	}
	if c.Sigma == 0 {
		c.Sigma = 0.03
	}
	if c.DecayEvery > 0 && c.DecayFactor == 0 {
		c.DecayFactor = 0.5
	}
	if c.EvalScenario == "" {
		c.EvalScenario = "nominal"
	}
	if c.Policy == ClassStructured {
		c.Policy = ""
	}
	c.Reward.setClassDefaults(c.Policy)
	c.Reward.setDefaults()
	c.Random.setDefaults()
}

// Validate reports the first bad field (of a config with defaults applied
// or not: zero means the default).
func (c TrainConfig) Validate() error {
	switch {
	case c.Iterations < 0:
		return fmt.Errorf("iterations: %d, want > 0", c.Iterations)
	case c.Perturbations < 0 || c.Perturbations > 4096:
		return fmt.Errorf("perturbations: %d, want [1, 4096]", c.Perturbations)
	case c.EpisodesPerDirection < 0 || c.EpisodesPerDirection > 1000:
		return fmt.Errorf("episodes_per_direction: %d, want [1, 1000]", c.EpisodesPerDirection)
	case c.TopFrac < 0 || c.TopFrac > 1:
		return fmt.Errorf("top_frac: %v, want (0, 1]", c.TopFrac)
	case c.StepSize < 0 || c.StepSize > 10 || math.IsNaN(c.StepSize):
		return fmt.Errorf("step_size: %v, want (0, 10]", c.StepSize)
	case c.Sigma < 0 || c.Sigma > 10 || math.IsNaN(c.Sigma):
		return fmt.Errorf("sigma: %v, want (0, 10]", c.Sigma)
	case c.DecayEvery < 0:
		return fmt.Errorf("decay_every: %d, want ≥ 0", c.DecayEvery)
	case c.DecayFactor < 0 || c.DecayFactor > 1 || math.IsNaN(c.DecayFactor):
		return fmt.Errorf("decay_factor: %v, want (0, 1]", c.DecayFactor)
	case c.Hidden < 0 || c.Hidden > 256:
		return fmt.Errorf("hidden: %d, want [1, 256]", c.Hidden)
	case c.EvalEvery < 0 || c.EvalEpisodes < 0 || c.CheckpointEvery < 0 || c.Workers < 0:
		return errors.New("eval_every, eval_episodes, checkpoint_every, workers: want ≥ 0")
	case c.TargetSuccess < 0 || c.TargetSuccess > 1:
		return fmt.Errorf("target_success: %v, want [0, 1]", c.TargetSuccess)
	}
	if _, err := NewPolicyClass(c.Policy, 1, 0); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	for _, s := range c.Scenarios {
		if _, err := sim.Lookup(s); err != nil {
			return fmt.Errorf("scenarios: %w", err)
		}
	}
	if c.EvalScenario != "" {
		if _, err := sim.Lookup(c.EvalScenario); err != nil {
			return fmt.Errorf("eval_scenario: %w", err)
		}
	}
	return c.Reward.Validate()
}

// checkFree checks the free indices of a θ of length D perturbed along P
// directions: in range, no index twice, and at least P of them.
func checkFree(free []int, D, P int) error {
	if len(free) == 0 {
		return nil
	}
	seen := make(map[int]bool, len(free))
	for _, i := range free {
		switch {
		case i < 0 || i >= D:
			return fmt.Errorf("free: index %d, want [0, %d)", i, D)
		case seen[i]:
			return fmt.Errorf("free: index %d twice", i)
		}
		seen[i] = true
	}
	if P > len(free) {
		return fmt.Errorf("free: %d indices for %d perturbations, want at least as many (the directions are orthogonal)", len(free), P)
	}
	return nil
}

// decay is the step-decay factor of step iter (1 without decay).
func (c TrainConfig) decay(iter int) float64 {
	if c.DecayEvery <= 0 || c.DecayFactor <= 0 {
		return 1
	}
	return math.Pow(c.DecayFactor, float64(iter/c.DecayEvery))
}

// SigmaAt is the perturbation scale of step iter (0-based): Sigma under
// the step decay.
func (c TrainConfig) SigmaAt(iter int) float64 { return c.Sigma * c.decay(iter) }

// StepSizeAt is the step size of step iter (0-based): StepSize under the
// step decay.
func (c TrainConfig) StepSizeAt(iter int) float64 { return c.StepSize * c.decay(iter) }

// IterStats are one BGS step's statistics (a line of the training CSV).
type IterStats struct {
	Iteration   int     `json:"iteration"`
	Episodes    int64   `json:"episodes"`      // training rollouts so far
	EvalEpisode int64   `json:"eval_episodes"` // eval rollouts so far
	MeanReward  float64 `json:"mean_reward"`   // over this step's perturbed rollouts
	MaxReward   float64 `json:"max_reward"`
	CatchRate   float64 `json:"catch_rate"` // of this step's perturbed rollouts
	// EvalSuccess and EvalReward are the latest eval of the unperturbed
	// policy on the eval scenario (NaN before the first).
	EvalSuccess float64 `json:"eval_success"`
	EvalReward  float64 `json:"eval_reward"`
	// MixSuccess and MixReward are the latest eval of the unperturbed
	// policy over the training scenarios (the mean of one batch each; NaN
	// before the first): the best policy is chosen on them.
	MixSuccess float64 `json:"mix_success"`
	MixReward  float64 `json:"mix_reward"`
	Evaluated  bool    `json:"evaluated"` // an eval ran at this step
	WallS      float64 `json:"wall_s"`
}

// State is the trainer's resumable state (the checkpoint).
type State struct {
	Policy    *Policy     `json:"policy"`      // current parameters θ
	Best      *Policy     `json:"best"`        // best mix eval so far
	BestEval  float64     `json:"best_eval"`   // its mix success (−1: none yet)
	BestRew   float64     `json:"best_reward"` // its mix reward (breaks ties)
	BestIter  int         `json:"best_iteration"`
	Iteration int         `json:"iteration"` // steps done
	Episodes  int64       `json:"episodes"`
	EvalEps   int64       `json:"eval_episodes"`
	WallS     float64     `json:"wall_s"`
	Seed      uint64      `json:"seed"`
	ObsN      float64     `json:"obs_n"`
	ObsSum    []float64   `json:"obs_sum"`
	ObsSumSq  []float64   `json:"obs_sumsq"`
	History   []IterStats `json:"history"`
	// Run is the configuration that wrote the checkpoint (nil in
	// checkpoints from before it was recorded): ResumeTrainer refuses a
	// different one unless forced.
	Run *RunSettings `json:"run,omitempty"`
}

// RunSettings is what decides a training run's steps: the training
// configuration (less the settings that may change on resume: Iterations,
// Workers, TargetSuccess, CheckpointEvery) and the simulator's.
type RunSettings struct {
	Train TrainConfig `json:"train"`
	Sim   sim.Config  `json:"sim"`
	// Engine names the physics engine when it is not the kinematic one.
	Engine string `json:"engine,omitempty"`
}

func runSettings(cfg TrainConfig, simCfg sim.Config) *RunSettings {
	cfg.Iterations, cfg.Workers, cfg.TargetSuccess, cfg.CheckpointEvery = 0, 0, 0, 0
	rs := &RunSettings{Train: cfg, Sim: simCfg}
	if cfg.Engine != nil && cfg.Engine.Name() != sim.Kinematic.Name() {
		rs.Engine = cfg.Engine.Name()
	}
	return rs
}

// ResumeOptions say what a resume must match.
type ResumeOptions struct {
	// Seed is the seed the caller asked for; it must be the checkpoint's.
	Seed uint64
	// Force resumes even when the seed or RunSettings differ from the
	// checkpoint's (the new ones apply from the next step on).
	Force bool
}

// Trainer runs BGS. Build it with NewTrainer or ResumeTrainer.
type Trainer struct {
	cfg    TrainConfig
	rob    *robot.Robot
	simCfg sim.Config
	scen   []*sim.Scenario
	eval   *sim.Scenario
	// evalSet is the scenarios of one eval (each training scenario once,
	// then the eval scenario when it is not among them); mixN is how many
	// of them are training scenarios.
	evalSet []*sim.Scenario
	mixN    int
	st      State
	obs     *ObsStats
	period  float64

	// run is what decides the steps (the Spec's Run of every batch).
	run *RunSettings
	// runner flies the rollouts: local (the default) or another set by
	// SetRunner; dirs caches the step's directions, shared with local.
	runner Runner
	local  *LocalRunner
	dirs   *DirCache
}

// NewTrainer starts training a new policy of class cfg.Policy (the
// structured prior, or a randomly initialised network; seeded by seed).
func NewTrainer(cfg TrainConfig, rob *robot.Robot, simCfg sim.Config, seed uint64) (*Trainer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pol, err := NewPolicyClass(cfg.Policy, cfg.Hidden, seed)
	if err != nil {
		return nil, err
	}
	in := pol.ObsLen()
	st := State{Policy: pol, Best: pol.Clone(), BestEval: -1, Seed: seed,
		ObsSum: make([]float64, in), ObsSumSq: make([]float64, in), Run: runSettings(cfg, simCfg)}
	return newTrainer(cfg, rob, simCfg, st)
}

// FineTuneTrainer starts training from an existing policy, typically to
// fine-tune it against an external evaluator (WriteCandidates,
// StepFromLogs): a real arm, or another simulator (catch finetune es).
// seed seeds the perturbation directions.
func FineTuneTrainer(cfg TrainConfig, rob *robot.Robot, simCfg sim.Config, pol *Policy, seed uint64) (*Trainer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	p := pol.Clone()
	in := p.ObsLen()
	st := State{Policy: p, Best: p.Clone(), BestEval: -1, Seed: seed,
		ObsSum: make([]float64, in), ObsSumSq: make([]float64, in)}
	return newTrainer(cfg, rob, simCfg, st)
}

// ResumeTrainer continues from a checkpoint file written by Checkpoint. It
// refuses a checkpoint whose seed or RunSettings differ from the caller's
// (naming the differences) unless opt.Force.
func ResumeTrainer(cfg TrainConfig, rob *robot.Robot, simCfg sim.Config, path string, opt ResumeOptions) (*Trainer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("resume %s: %w", path, err)
	}
	for _, p := range []*Policy{st.Policy, st.Best} {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("resume %s: %w", path, err)
		}
	}
	if len(st.ObsSum) != st.Policy.ObsLen() || len(st.ObsSumSq) != st.Policy.ObsLen() {
		return nil, fmt.Errorf("resume %s: observation statistics of the wrong length", path)
	}
	want := runSettings(cfg, simCfg)
	if !opt.Force {
		if st.Run == nil {
			return nil, fmt.Errorf("resume %s: the checkpoint records no configuration (written before it did); force the resume to use it", path)
		}
		diff, err := diffSettings(st.Run, want)
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", path, err)
		}
		if st.Seed != opt.Seed {
			diff = append([]string{fmt.Sprintf("seed: checkpoint %d, now %d", st.Seed, opt.Seed)}, diff...)
		}
		if len(diff) > 0 {
			return nil, fmt.Errorf("resume %s: the checkpoint was written with other settings (%s); rerun with the same ones or force the resume", path, strings.Join(diff, "; "))
		}
	}
	st.Run = want
	return newTrainer(cfg, rob, simCfg, st)
}

// diffSettings lists the leaves (dotted JSON paths) where a and b differ.
func diffSettings(a, b any) ([]string, error) {
	flat := func(v any) (map[string]string, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var tree any
		if err := json.Unmarshal(data, &tree); err != nil {
			return nil, err
		}
		out := map[string]string{}
		var walk func(string, any)
		walk = func(k string, v any) {
			if m, ok := v.(map[string]any); ok {
				for kk, vv := range m {
					walk(strings.TrimPrefix(k+"."+kk, "."), vv)
				}
				return
			}
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
		walk("", tree)
		return out, nil
	}
	fa, err := flat(a)
	if err != nil {
		return nil, err
	}
	fb, err := flat(b)
	if err != nil {
		return nil, err
	}
	var diff []string
	for k, va := range fa {
		if vb := fb[k]; vb != va {
			diff = append(diff, fmt.Sprintf("%s: checkpoint %s, now %s", k, va, vb))
		}
	}
	for k, vb := range fb {
		if _, ok := fa[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: checkpoint none, now %s", k, vb))
		}
	}
	sort.Strings(diff)
	return diff, nil
}

func newTrainer(cfg TrainConfig, rob *robot.Robot, simCfg sim.Config, st State) (*Trainer, error) {
	if err := checkFree(cfg.Free, len(st.Policy.Params()), cfg.Perturbations); err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, rob: rob, simCfg: simCfg, st: st}
	rate := simCfg.ControlRateHz
	if rate == 0 {
		rate = 250
	}
	t.period = 1 / rate
	all := map[string]*sim.Scenario{}
	for _, name := range append(append([]string(nil), cfg.Scenarios...), cfg.EvalScenario) {
		if all[name] != nil {
			continue
		}
		sc, err := sim.Lookup(name)
		if err != nil {
			return nil, err
		}
		all[name] = sc
	}
	for _, name := range cfg.Scenarios {
		t.scen = append(t.scen, all[name])
	}
	t.eval = all[cfg.EvalScenario]
	seen := map[string]bool{}
	for _, sc := range t.scen {
		if !seen[sc.Name] {
			seen[sc.Name] = true
			t.evalSet = append(t.evalSet, sc)
		}
	}
	t.mixN = len(t.evalSet)
	if !seen[t.eval.Name] {
		t.evalSet = append(t.evalSet, t.eval)
	}
	t.obs = &ObsStats{N: st.ObsN, Sum: st.ObsSum, SumSq: st.ObsSumSq}
	t.run = runSettings(cfg, simCfg)
	t.local = NewLocalRunner(rob, cfg.Engine, cfg.Workers)
	t.dirs = t.local.flyers[0].dirs
	t.runner = t.local
	if err := t.local.Prepare(t.spec()); err != nil {
		return nil, err
	}
	return t, nil
}

// State returns the trainer's state (shared, do not modify).
func (t *Trainer) State() *State { return &t.st }

// Config returns the trainer's settings with defaults applied.
func (t *Trainer) Config() TrainConfig { return t.cfg }

// rolloutRand is the random source of rollout idx of step iter in a stream
// (0 training, 1 eval; eval ignores iter so every eval flies the same
// throws).
func rolloutRand(seed uint64, stream, iter, idx int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x243f6a8885a308d3*uint64(stream+1), uint64(iter)<<32|uint64(idx)))
}

// directions returns step iter's perturbation directions (Directions;
// shared, read-only).
func (t *Trainer) directions(iter int) [][]float64 {
	if t.dirs == nil {
		t.dirs = &DirCache{}
	}
	return t.dirs.Get(t.st.Seed, iter, t.cfg.Perturbations, len(t.st.Policy.Params()), t.cfg.Free)
}

// spec is the Spec of a batch of the current step flying θ.
func (t *Trainer) spec() *Spec {
	return &Spec{Run: t.run, Seed: t.st.Seed, Iter: t.st.Iteration, Policy: t.st.Policy}
}

// Step runs one BGS iteration in simulation: 2·P·m rollouts, the update,
// the observation normaliser update and (every EvalEvery steps) the eval.
func (t *Trainer) Step(ctx context.Context) (IterStats, error) {
	start := time.Now()
	iter := t.st.Iteration
	evalOn := t.cfg.EvalEvery > 0 && t.cfg.EvalEpisodes > 0
	if iter == 0 && evalOn && t.st.BestEval < 0 {
		// The prior is a candidate too: training must not ship anything
		// worse on the mix than where it started.
		if _, _, _, _, err := t.evalAndSelect(ctx); err != nil {
			return IterStats{}, err
		}
	}
	P, m := t.cfg.Perturbations, t.cfg.EpisodesPerDirection
	dirs := t.directions(iter)
	nJobs := 2 * P * m
	// Job j: direction k = j/(2m), sign s = (j/m)%2, episode e = j%m. The
	// + and − policy of a pair fly the same throws (same rollout source).
	b := &Batch{Spec: t.spec(), Tasks: make([]Task, nJobs)}
	for j := range b.Tasks {
		k, s, e := j/(2*m), (j/m)%2, j%m
		b.Tasks[j] = Task{Stream: StreamTrain, Rollout: k*m + e, Dir: k, Sign: 1 - 2*s}
	}
	out := make([]Result, nJobs)
	if err := t.runner.Run(ctx, b, out); err != nil {
		return IterStats{}, err
	}
	rewards := make([]float64, nJobs)
	for j := range out {
		rewards[j] = out[j].Reward
	}
	rp, rm := make([]float64, P), make([]float64, P)
	for j, r := range rewards {
		k, s := j/(2*m), (j/m)%2
		if s == 0 {
			rp[k] += r / float64(m)
		} else {
			rm[k] += r / float64(m)
		}
	}
	t.update(dirs, rp, rm)
	for j := range out {
		if out[j].Obs == nil || len(out[j].Obs.Sum) != len(t.obs.Sum) || len(out[j].Obs.SumSq) != len(t.obs.SumSq) {
			return IterStats{}, fmt.Errorf("policy: rollout %d of step %d returned no observation statistics of length %d", j, iter, len(t.obs.Sum))
		}
	}
	for j := range out {
		t.obs.Merge(out[j].Obs)
	}
	t.refreshNormaliser()
	t.st.Iteration++
	t.st.Episodes += int64(nJobs)

	is := IterStats{Iteration: t.st.Iteration, Episodes: t.st.Episodes, EvalSuccess: math.NaN(), EvalReward: math.NaN(),
		MixSuccess: math.NaN(), MixReward: math.NaN()}
	var sum, mx float64
	mx = math.Inf(-1)
	nc := 0
	for j, r := range rewards {
		sum += r
		mx = math.Max(mx, r)
		if out[j].Caught {
			nc++
		}
	}
	is.MeanReward, is.MaxReward, is.CatchRate = sum/float64(nJobs), mx, float64(nc)/float64(nJobs)
	if n := len(t.st.History); n > 0 {
		h := &t.st.History[n-1]
		is.EvalSuccess, is.EvalReward, is.MixSuccess, is.MixReward = h.EvalSuccess, h.EvalReward, h.MixSuccess, h.MixReward
	}
	if evalOn && (t.st.Iteration%t.cfg.EvalEvery == 0 || t.st.Iteration == 1) {
		var err error
		is.EvalSuccess, is.EvalReward, is.MixSuccess, is.MixReward, err = t.evalAndSelect(ctx)
		if err != nil {
			return IterStats{}, err
		}
		is.Evaluated = true
	}
	is.EvalEpisode = t.st.EvalEps
	t.st.WallS += time.Since(start).Seconds()
	is.WallS = t.st.WallS
	t.st.History = append(t.st.History, is)
	return is, nil
}

// evalAndSelect evaluates the current policy on the eval set, keeps it as
// the best when its mix success beats the best so far (or ties it with a
// higher mix reward; the nominal success alone saturates near 1 and would
// let ties drift to the newest policy), and returns the eval scenario's
// and the mix's success and reward.
func (t *Trainer) evalAndSelect(ctx context.Context) (succ, rew, mixSucc, mixRew float64, err error) {
	n := t.cfg.EvalEpisodes
	ss, rr, err := t.evaluateSet(ctx, t.st.Policy.Params(), t.evalSet, n)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	t.st.EvalEps += int64(n * len(t.evalSet))
	for k := 0; k < t.mixN; k++ {
		mixSucc += ss[k] / float64(t.mixN)
		mixRew += rr[k] / float64(t.mixN)
	}
	for k, sc := range t.evalSet {
		if sc == t.eval {
			succ, rew = ss[k], rr[k]
		}
	}
	if mixSucc > t.st.BestEval || (mixSucc == t.st.BestEval && mixRew > t.st.BestRew) {
		t.st.BestEval, t.st.BestRew, t.st.BestIter = mixSucc, mixRew, t.st.Iteration
		t.st.Best = t.st.Policy.Clone()
	}
	return succ, rew, mixSucc, mixRew, nil
}

// evalSpec is the Spec of an eval batch flying params: the current policy
// itself when params are its own, else a copy carrying params.
func (t *Trainer) evalSpec(params []float64) *Spec {
	sp := t.spec()
	if own := t.st.Policy.Params(); &params[0] != &own[0] || len(params) != len(own) {
		p := t.st.Policy.Clone()
		copy(p.Params(), params)
		sp.Policy = p
	}
	return sp
}

// evaluateSet is Evaluate over several scenarios in one parallel batch:
// the catch rate and mean reward of n throws of each.
func (t *Trainer) evaluateSet(ctx context.Context, params []float64, set []*sim.Scenario, n int) (success, reward []float64, err error) {
	b := &Batch{Spec: t.evalSpec(params), Tasks: make([]Task, n*len(set))}
	for j := range b.Tasks {
		b.Tasks[j] = Task{Stream: StreamEval, Rollout: j % n, Scenario: set[j/n].Name, Dir: -1}
	}
	out := make([]Result, len(b.Tasks))
	if err := t.runner.Run(ctx, b, out); err != nil {
		return nil, nil, err
	}
	success, reward = make([]float64, len(set)), make([]float64, len(set))
	for j := range out {
		k := j / n
		reward[k] += out[j].Reward / float64(n)
		if out[j].Caught {
			success[k] += 1 / float64(n)
		}
	}
	return success, reward, nil
}

// update applies the BGS step from the rewards of the + and − policies of
// each direction: keep the top fraction of directions by max(r+, r−),
// normalise by the standard deviation of their rewards, and move θ by
// α/(b·σ_R)·Σ (r+ − r−)·δ.
func (t *Trainer) update(dirs [][]float64, rp, rm []float64) {
	P := len(rp)
	b := max(1, int(math.Ceil(t.cfg.TopFrac*float64(P))))
	order := make([]int, P)
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, c int) bool {
		return math.Max(rp[order[a]], rm[order[a]]) > math.Max(rp[order[c]], rm[order[c]])
	})
	order = order[:b]
	var mean, sq float64
	for _, k := range order {
		mean += rp[k] + rm[k]
	}
	mean /= float64(2 * b)
	for _, k := range order {
		sq += (rp[k]-mean)*(rp[k]-mean) + (rm[k]-mean)*(rm[k]-mean)
	}
	std := math.Sqrt(sq / float64(2*b))
	if std < 1e-6 {
		return // no signal in this step
	}
	theta := t.st.Policy.Params()
	f := t.cfg.StepSizeAt(t.st.Iteration) / (float64(b) * std)
	for _, k := range order {
		c := f * (rp[k] - rm[k])
		for i, v := range dirs[k] {
			theta[i] += c * v
		}
	}
}

// refreshNormaliser sets the policy's observation normaliser from the
// running statistics (std floored so constant features do not blow up).
func (t *Trainer) refreshNormaliser() {
	mean, std := t.st.Policy.Normaliser()
	if t.obs.N < 2 {
		return
	}
	for i := range mean {
		m := t.obs.Sum[i] / t.obs.N
		v := t.obs.SumSq[i]/t.obs.N - m*m
		mean[i] = m
		std[i] = math.Max(math.Sqrt(math.Max(v, 0)), 1e-2)
	}
	t.st.ObsN = t.obs.N
}

// Evaluate flies n throws of sc (the same throws on every call: eval stream)
// with params and no domain randomisation beyond the scenario's, and
// returns the catch rate and mean reward.
func (t *Trainer) Evaluate(ctx context.Context, params []float64, sc *sim.Scenario, n int) (success, reward float64, err error) {
	b := &Batch{Spec: t.evalSpec(params), Tasks: make([]Task, n)}
	for i := range b.Tasks {
		b.Tasks[i] = Task{Stream: StreamEval, Rollout: i, Scenario: sc.Name, Dir: -1}
	}
	out := make([]Result, n)
	if err := t.runner.Run(ctx, b, out); err != nil {
		return 0, 0, err
	}
	c := 0
	for i := range out {
		reward += out[i].Reward / float64(n)
		if out[i].Caught {
			c++
		}
	}
	return float64(c) / float64(n), reward, nil
}

// Checkpoint writes the trainer's state atomically.
func (t *Trainer) Checkpoint(path string) error {
	t.st.ObsN, t.st.ObsSum, t.st.ObsSumSq = t.obs.N, t.obs.Sum, t.obs.SumSq
	data, err := json.Marshal(&t.st)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// Result returns the policy to ship: the best policy on the mix eval (the
// current one when no eval ran), with its training record (EvalSuccess is
// its mix success).
func (t *Trainer) Result() *Policy {
	p := t.st.Best
	if t.st.BestEval < 0 {
		p = t.st.Policy
	}
	p = p.Clone()
	names := make([]string, len(t.scen))
	for i, s := range t.scen {
		names[i] = s.Name
	}
	p.Trained = &TrainInfo{Scenarios: names, Seed: t.st.Seed, Iterations: t.st.Iteration, Episodes: t.st.Episodes,
		EvalSuccess: t.st.BestEval, WallS: t.st.WallS}
	return p
}
