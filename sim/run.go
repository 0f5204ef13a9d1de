package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/robot"
)

// MaxTrials bounds the trials of one Run or Throws: their results are held
// in memory (a few hundred bytes each).
const MaxTrials = 1_000_000

// RunOptions configures a batch of trials.
type RunOptions struct {
	Scenario *Scenario
	Robot    *robot.Robot
	Config   Config
	Trials   int
	Seed     uint64
	// Engine simulates the arm, the ball and the net; nil means Kinematic.
	Engine Engine
	// Workers defaults to GOMAXPROCS. Results do not depend on it.
	Workers int
	// NewController builds one controller per worker.
	NewController func() (control.Controller, error)
	// NewObserver, when set, builds one observer per worker in place of
	// state fidelity; Fidelity names it in the summary (default "state").
	NewObserver func() (Observer, error)
	Fidelity    string
	// NewForecaster, when set, builds one forecaster per worker, with the
	// buffer its samples go to (forecast.NewBuffer); the controller sees
	// them as Input.Forecast.
	NewForecaster func() (Forecaster, control.Forecast, error)
	// Log, when set, receives one JSON line per trial (a LogRecord), in
	// trial order (each line is a single Write, so a crash loses at most
	// the trials in flight). RunID names the run in each record.
	Log   io.Writer
	RunID string
	// Provenance is written into every log line (package
	// internal/provenance's Record, or any JSON-encodable value).
	Provenance any
	// Progress, when set, is called after each trial with the number done.
	Progress func(done int)
	// StepMS, when set, receives every controller step's compute time, ms
	// (for histograms).
	StepMS *[]float64
	// NewTracer, when set, builds one tracer per worker (package sim/trace
	// writes a file per trial).
	NewTracer func() (Tracer, error)
}

// Summary statistics used in the JSON outputs.
type (
	MeanStd struct {
		Mean float64 `json:"mean"`
		Std  float64 `json:"std"`
	}
	Modality struct {
		Left  int `json:"left"`
		Right int `json:"right"`
	}
	ComputeStats struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	}
	MissStats struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
	}
)

// Summary is the JSON printed by `catch sim`.
type Summary struct {
	Controller      string     `json:"controller"`
	Scenario        string     `json:"scenario"`
	Engine          string     `json:"engine"`
	Fidelity        string     `json:"fidelity"`
	Seed            uint64     `json:"seed"`
	Trials          int        `json:"trials"`
	Catchable       int        `json:"catchable"`
	Caught          int        `json:"caught"`
	SuccessRate     float64    `json:"success_rate"`
	CI95            [2]float64 `json:"ci95"`
	LimitViolations int        `json:"limit_violations"`
	// CommandCollisions is the number of commands, over all trials, whose
	// pose collides (TrialResult.CommandCollisions).
	CommandCollisions int `json:"command_collisions"`
	// SentCollisions is the number of commands sent after the safety
	// filter, over all trials, whose pose collides
	// (TrialResult.SentCollisions; want 0).
	SentCollisions int `json:"sent_collisions"`
	// StepClamps is the number of commands, over all trials, whose
	// position step the safety filter bounded (TrialResult.StepClamps).
	StepClamps int `json:"step_clamps"`
	// MaxStepRatio is the largest commanded position step per tick over
	// all trials, as a fraction of what the velocity limit allows (≤ 1).
	MaxStepRatio  float64      `json:"max_step_ratio"`
	Modality      Modality     `json:"modality"`
	ComputeMS     ComputeStats `json:"compute_ms"`
	MissDistanceM MissStats    `json:"miss_distance_m"`
	// FailureReasons counts the catchable throws missed, by reason (the
	// Fail… constants).
	FailureReasons map[string]int `json:"failure_reasons"`
	// ViolationKinds breaks LimitViolations down by cause, summed over all
	// trials; ViolationTrials is the number of trials with any.
	ViolationKinds  ViolationKinds `json:"violations_by_kind"`
	ViolationTrials int            `json:"trials_with_violations"`
	// Extra fields beyond the list.
	CaughtUncatchable int     `json:"caught_uncatchable"`
	Errors            int     `json:"controller_errors"`
	WallS             float64 `json:"wall_s"`
	TrialsPerS        float64 `json:"trials_per_s"`
	// Workers is the number of trials run at once (each on its own OS
	// thread) and GOMAXPROCS the cores Go could use. CPUS is the CPU time
	// the workers' threads spent on the trials (controller, physics,
	// judge; not the world's set-up nor the runtime's background garbage
	// collection), so TrialsPerCPUS = Trials / CPUS is the throughput per
	// core, little affected by other processes on a loaded machine.
	Workers       int     `json:"workers,omitempty"`
	GOMAXPROCS    int     `json:"gomaxprocs,omitempty"`
	CPUS          float64 `json:"cpu_s,omitempty"`
	TrialsPerCPUS float64 `json:"trials_per_cpu_s,omitempty"`
}

// Run executes opts.Trials trials in parallel and summarises them. Trial i
// uses a random source seeded by (Seed, i), so the results are the same for
// any number of workers.
func Run(ctx context.Context, opts RunOptions) (Summary, []TrialResult, error) {
	if opts.Trials <= 0 || opts.Trials > MaxTrials {
		return Summary{}, nil, fmt.Errorf("trials: %d, want 1..%d", opts.Trials, MaxTrials)
	}
	if opts.NewController == nil || opts.Scenario == nil || opts.Robot == nil {
		return Summary{}, nil, fmt.Errorf("sim.Run: scenario, robot and controller factory are required")
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, opts.Trials)
	start := time.Now()
	fidelity := opts.Fidelity
	if fidelity == "" {
		fidelity = "state"
	}
	results := make([]TrialResult, opts.Trials)
	stepMS := make([][]float64, workers)
	cpuNS := make([]int64, workers)
	ctrlName := ""
	// Log lines wait here until every earlier trial's line is written.
	pending := map[int][]byte{}
	nextLog := 0
	var (
		mu       sync.Mutex
		done     int
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	worlds := make([]*World, workers)
	ctrls := make([]control.Controller, workers)
	for k := range workers {
		w, err := NewWorldEngine(opts.Config, opts.Robot, opts.Scenario, opts.Engine)
		if err != nil {
			closeWorlds(worlds[:k])
			return Summary{}, nil, err
		}
		worlds[k] = w
		c, err := opts.NewController()
		if err != nil {
			closeWorlds(worlds[:k+1])
			return Summary{}, nil, err
		}
		if opts.NewObserver != nil {
			o, err := opts.NewObserver()
			if err != nil {
				closeWorlds(worlds[:k+1])
				return Summary{}, nil, err
			}
			w.SetObserver(o)
		}
		if opts.NewForecaster != nil {
			f, buf, err := opts.NewForecaster()
			if err != nil {
				closeWorlds(worlds[:k+1])
				return Summary{}, nil, err
			}
			w.SetForecaster(f, buf)
		}
		if opts.NewTracer != nil {
			tr, err := opts.NewTracer()
			if err != nil {
				closeWorlds(worlds[:k+1])
				return Summary{}, nil, err
			}
			w.SetTracer(tr)
		}
		ctrls[k] = c
		ctrlName = c.Name()
	}
	for k := range workers {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			runtime.LockOSThread() // per-thread CPU time for the compute statistics
			defer runtime.UnlockOSThread()
			cpu0 := cputime.Thread()
			defer func() { cpuNS[k] = cputime.Thread() - cpu0 }()
			w, c := worlds[k], ctrls[k]
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil || ctx.Err() != nil
				mu.Unlock()
				if i >= opts.Trials || stop {
					break
				}
				res := &results[i]
				err := RunTrial(w, c, opts.Scenario, opts.Seed, i, res)
				var line []byte
				if err == nil && opts.Log != nil {
					line, err = json.Marshal(LogRecord{Run: opts.RunID, Controller: c.Name(), Seed: opts.Seed, Fidelity: fidelity, TrialResult: *res, Provenance: opts.Provenance})
					line = append(line, '\n')
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("trial %d: %w", i, err)
				}
				if line != nil && firstErr == nil {
					pending[i] = line
					for l, ok := pending[nextLog]; ok && firstErr == nil; l, ok = pending[nextLog] {
						if _, werr := opts.Log.Write(l); werr != nil {
							firstErr = fmt.Errorf("trial log: %w", werr)
						}
						delete(pending, nextLog)
						nextLog++
					}
				}
				done++
				d := done
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress(d)
				}
			}
			stepMS[k] = w.StepMS
		}(k)
	}
	wg.Wait()
	for _, w := range worlds {
		if err := w.Close(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("observer: %w", err)
		}
	}
	if firstErr != nil {
		return Summary{}, nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, nil, err
	}
	var all []float64
	for _, s := range stepMS {
		all = append(all, s...)
	}
	sum := Summarize(results, all)
	if opts.StepMS != nil {
		*opts.StepMS = all
	}
	sum.Controller = ctrlName
	sum.Scenario = opts.Scenario.Name
	sum.Engine = worlds[0].Engine()
	sum.Fidelity = fidelity
	sum.Seed = opts.Seed
	sum.WallS = time.Since(start).Seconds()
	sum.TrialsPerS = float64(opts.Trials) / sum.WallS
	sum.Workers, sum.GOMAXPROCS = workers, runtime.GOMAXPROCS(0)
	for _, ns := range cpuNS {
		sum.CPUS += float64(ns) / 1e9
	}
	if cputime.Precise && sum.CPUS > 0 {
		sum.TrialsPerCPUS = float64(opts.Trials) / sum.CPUS
	} else {
		sum.CPUS = 0 // no thread clock: the wall clock would mislead
	}
	return sum, results, nil
}

// LogRecord is one line of a trial log of simulated trials ('catch sim
// --log', 'catch ros-trials --log'): the trial's result and the run it came
// from.
type LogRecord struct {
	Run        string `json:"run"`
	Controller string `json:"controller"`
	Seed       uint64 `json:"seed"`
	Fidelity   string `json:"fidelity"`
	TrialResult
	Provenance any `json:"provenance,omitempty"`
}

// CheckLogLine accepts a line of such a log (a JSON object with a trial
// index and a scenario): the check before appending to an existing file.
func CheckLogLine(line []byte) error {
	var h struct {
		Trial    *int    `json:"trial"`
		Scenario *string `json:"scenario"`
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return fmt.Errorf("not JSON (%v)", err)
	}
	if h.Trial == nil || h.Scenario == nil {
		return errors.New(`not a trial record (no "trial" and "scenario")`)
	}
	return nil
}

func closeWorlds(ws []*World) {
	for _, w := range ws {
		_ = w.Close()
	}
}

// RunTrial samples throw i of the scenario for the seed and runs it in w.
func RunTrial(w *World, c control.Controller, sc *Scenario, seed uint64, i int, res *TrialResult) error {
	rng := TrialRand(seed, i)
	th := sc.Sample(rng)
	*res = TrialResult{Index: i}
	Describe(&th, res)
	res.Catchable, _ = w.reach.Catchable(&th)
	if err := w.Trial(&th, c, rng, res); err != nil {
		return err
	}
	res.Failure = res.FailureReason()
	return nil
}

// TrialRand is the random source of trial i for a seed.
func TrialRand(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^uint64(i)))
}

// Summarize computes the summary statistics of a batch (stepMS are the
// controller's per-step compute times in ms).
func Summarize(results []TrialResult, stepMS []float64) Summary {
	var s Summary
	s.Trials = len(results)
	s.FailureReasons = map[string]int{}
	var miss []float64
	for i := range results {
		r := &results[i]
		s.LimitViolations += r.LimitViolations
		s.ViolationKinds.Add(&r.ViolationKinds)
		if r.LimitViolations > 0 {
			s.ViolationTrials++
		}
		s.CommandCollisions += r.CommandCollisions
		s.SentCollisions += r.SentCollisions
		s.StepClamps += r.StepClamps
		s.MaxStepRatio = math.Max(s.MaxStepRatio, r.MaxStepRatio)
		if r.Error != "" {
			s.Errors++
		}
		if !r.Catchable {
			if r.Caught {
				s.CaughtUncatchable++
			}
			continue
		}
		s.Catchable++
		miss = append(miss, r.MissDistanceM)
		if r.Caught {
			s.Caught++
			if r.Side == "left" {
				s.Modality.Left++
			} else {
				s.Modality.Right++
			}
		} else if r.Failure != "" {
			s.FailureReasons[r.Failure]++
		}
	}
	if s.Catchable > 0 {
		s.SuccessRate = float64(s.Caught) / float64(s.Catchable)
	}
	s.CI95 = ClopperPearson(s.Caught, s.Catchable, 0.05)
	sort.Float64s(stepMS)
	s.ComputeMS = ComputeStats{P50: quantile(stepMS, 0.5), P99: quantile(stepMS, 0.99)}
	if len(stepMS) > 0 {
		s.ComputeMS.Max = stepMS[len(stepMS)-1]
	}
	sort.Float64s(miss)
	s.MissDistanceM = MissStats{P50: quantile(miss, 0.5), P95: quantile(miss, 0.95)}
	return s
}

// quantile of sorted data (nearest rank); 0 for no data.
func quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// ClopperPearson returns the exact two-sided 1−alpha confidence interval of
// a binomial proportion with k successes in n trials ([0, 1] when n = 0).
func ClopperPearson(k, n int, alpha float64) [2]float64 {
	if n == 0 {
		return [2]float64{0, 1}
	}
	lo, hi := 0.0, 1.0
	if k > 0 {
		lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha / 2)
	}
	if k < n {
		hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(1 - alpha/2)
	}
	return [2]float64{lo, hi}
}

// ThrowStats is the JSON printed by `catch throws`.
type ThrowStats struct {
	Scenario          string  `json:"scenario"`
	N                 int     `json:"n"`
	HorizontalSpeed   MeanStd `json:"horizontal_speed_mps"`
	FlightTime        MeanStd `json:"flight_time_s"`
	ArrivalSpeed      MeanStd `json:"arrival_speed_mps"`
	RightFraction     float64 `json:"right_fraction"`
	CatchableFraction float64 `json:"catchable_fraction"`
	// Arriving counts the throws that reach the rail plane in the air; the
	// flight-time and arrival statistics are over those.
	Arriving int `json:"arriving"`
}

// Throws samples n throws of the scenario (throw i from TrialRand(seed, i),
// the same throws `catch sim` uses) and summarises their distribution.
func Throws(sc *Scenario, rob *robot.Robot, cfg Config, n int, seed uint64, workers int) (ThrowStats, error) {
	if n <= 0 || n > MaxTrials {
		return ThrowStats{}, fmt.Errorf("n: %d, want 1..%d", n, MaxTrials)
	}
	cfg.setDefaults(rob.Chain.DOF())
	if err := cfg.Validate(rob.Limits); err != nil {
		return ThrowStats{}, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	res := make([]TrialResult, n)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for k := range workers {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			reach, err := NewReach(cfg.Reach, rob, cfg.ReadyQ)
			if err != nil {
				errs[k] = err
				return
			}
			for i := k; i < n; i += workers {
				th := sc.Sample(TrialRand(seed, i))
				Describe(&th, &res[i])
				res[i].Catchable, _ = reach.Catchable(&th)
			}
		}(k)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ThrowStats{}, err
		}
	}
	st := ThrowStats{Scenario: sc.Name, N: n}
	var hs, ft, as []float64
	right, catchable := 0, 0
	for i := range res {
		r := &res[i]
		hs = append(hs, r.HorizontalSpeed)
		if r.Catchable {
			catchable++
		}
		if r.Arrives {
			ft = append(ft, r.FlightTimeS)
			as = append(as, r.ArrivalSpeed)
			if r.ArrivalY < 0 {
				right++
			}
		}
	}
	st.Arriving = len(ft)
	st.HorizontalSpeed = meanStd(hs)
	st.FlightTime = meanStd(ft)
	st.ArrivalSpeed = meanStd(as)
	if len(ft) > 0 {
		st.RightFraction = float64(right) / float64(len(ft))
	}
	st.CatchableFraction = float64(catchable) / float64(n)
	return st, nil
}

func meanStd(x []float64) MeanStd {
	if len(x) == 0 {
		return MeanStd{}
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var v float64
	for _, e := range x {
		v += (e - m) * (e - m)
	}
	if len(x) > 1 {
		v /= float64(len(x) - 1)
	}
	return MeanStd{Mean: m, Std: math.Sqrt(v)}
}
