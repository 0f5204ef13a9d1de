package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"gonum.org/v1/plot/vg"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/trace"
)

// Options configures a benchmark run.
type Options struct {
	Controllers []string
	Scenarios   []string
	Trials      int
	Seed        uint64
	Out         string
	Robot       *robot.Robot
	Sim         sim.Config
	// NewController builds a controller by name for the named engine (one
	// per pair; a controller's parameters may have been fine-tuned in the
	// engine).
	NewController func(name, engine string) (control.Controller, error)
	// Workers bounds the pairs run at once; default GOMAXPROCS. Each pair
	// runs its trials on one goroutine, so results do not depend on it.
	Workers int
	// ESLog is an optional ES training log (CSV) to plot.
	ESLog string
	// Progress is called with the total number of trials done.
	Progress func(done int)
	// Provenance goes into results.json, timing.json, trials.csv, the
	// report and every plot.
	Provenance provenance.Record
	// Notes are lines the report prints under its provenance (the origin
	// of each learned policy: training command, seed, episodes, commit).
	Notes []string
	// TraceDir, when set, receives one trace file per trial of every pair
	// (package sim/trace).
	TraceDir string
	// Engines simulate the world; default [sim.Kinematic]. With more than
	// one, every (controller, scenario) pair runs in each engine on the same
	// throws, and the report adds the sim-to-sim gap (gap.go): the first
	// engine is the reference the others are compared with.
	Engines []sim.Engine
}

// Bin is the success within one bin of a throw parameter.
type Bin struct {
	Lo, Hi    float64    `json:"-"`
	Center    float64    `json:"center"`
	Catchable int        `json:"catchable"`
	Caught    int        `json:"caught"`
	Rate      float64    `json:"success_rate"`
	CI95      [2]float64 `json:"ci95"`
}

// Entry is one (controller, scenario) pair in results.json: the `catch
// sim` fields plus success by yaw and by horizontal speed.
type Entry struct {
	sim.Summary
	ByYaw   []Bin `json:"success_by_yaw_deg"`
	BySpeed []Bin `json:"success_by_speed_mps"`
	// Failures counts the trials that were not caught by reason
	// (sim.TrialResult.FailureReason), uncatchable throws included.
	Failures map[string]int `json:"failures"`

	stepMS  []float64
	results []sim.TrialResult
}

// MarshalJSON writes the entry without its machine-dependent fields
// (compute_ms, wall_s, trials_per_s, cpu_s, trials_per_cpu_s, gomaxprocs),
// which go to timing.json instead, so results.json is identical for a seed
// on any machine.
func (e Entry) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(e.Summary)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "compute_ms")
	delete(m, "wall_s")
	delete(m, "trials_per_s")
	delete(m, "cpu_s")
	delete(m, "trials_per_cpu_s")
	delete(m, "gomaxprocs")
	m["success_by_yaw_deg"] = e.ByYaw
	m["success_by_speed_mps"] = e.BySpeed
	m["failures"] = e.Failures
	return json.Marshal(m)
}

// TimingFile is timing.json.
type TimingFile struct {
	Provenance provenance.Record `json:"provenance"`
	TickMS     float64           `json:"tick_ms"`
	Pairs      []Timing          `json:"pairs"`
}

// Timing is one pair's machine-dependent numbers (timing.json).
type Timing struct {
	Controller string           `json:"controller"`
	Scenario   string           `json:"scenario"`
	Engine     string           `json:"engine"`
	ComputeMS  sim.ComputeStats `json:"compute_ms"`
	WallS      float64          `json:"wall_s"`
	// CPUS and TrialsPerCPUS: the pair's CPU time and trials per CPU
	// second (sim.Summary).
	CPUS          float64 `json:"cpu_s"`
	TrialsPerCPUS float64 `json:"trials_per_cpu_s"`
}

// Results is results.json.
type Results struct {
	Seed       uint64            `json:"seed"`
	Trials     int               `json:"trials_per_pair"`
	Provenance provenance.Record `json:"provenance"`
	// Notes are Options.Notes.
	Notes []string `json:"notes,omitempty"`
	// TickMS is the control period, the compute budget of one step, ms.
	TickMS  float64 `json:"tick_ms"`
	Entries []Entry `json:"entries"`
	// Engines lists the engines run, the reference first; Gaps is the
	// sim-to-sim gap of every pair in every other engine (only with more
	// than one engine).
	Engines []string `json:"engines,omitempty"`
	Gaps    []Gap    `json:"gaps,omitempty"`
}

// Run executes every pair and writes results.json, report.md and the plots
// into opts.Out.
func Run(ctx context.Context, opts Options) (*Results, error) {
	if opts.Trials <= 0 {
		return nil, fmt.Errorf("trials: %d, want > 0", opts.Trials)
	}
	if opts.ESLog != "" {
		if _, err := os.Stat(opts.ESLog); err != nil {
			return nil, fmt.Errorf("es-log: %w", err)
		}
	}
	if len(opts.Controllers) == 0 || len(opts.Scenarios) == 0 {
		return nil, fmt.Errorf("need at least one controller and one scenario")
	}
	scs := make([]*sim.Scenario, len(opts.Scenarios))
	for i, n := range opts.Scenarios {
		s, err := sim.Lookup(n)
		if err != nil {
			return nil, err
		}
		scs[i] = s
	}
	for _, c := range opts.Controllers {
		if _, err := opts.NewController(c, ""); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	if opts.TraceDir != "" {
		if err := os.MkdirAll(opts.TraceDir, 0o755); err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
	}
	engines := opts.Engines
	if len(engines) == 0 {
		engines = []sim.Engine{sim.Kinematic}
	}
	type pair struct{ c, s, e int }
	var pairs []pair
	for e := range engines {
		for c := range opts.Controllers {
			for s := range scs {
				pairs = append(pairs, pair{c, s, e})
			}
		}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	entries := make([]Entry, len(pairs))
	errs := make([]error, len(pairs))
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
		next int
	)
	for range min(workers, len(pairs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= len(pairs) || ctx.Err() != nil {
					return
				}
				p := pairs[k]
				name := opts.Controllers[p.c]
				var steps []float64
				last := 0
				sum, res, err := sim.Run(ctx, sim.RunOptions{
					Scenario: scs[p.s], Robot: opts.Robot, Config: opts.Sim, Trials: opts.Trials, Seed: opts.Seed, Workers: 1, Engine: engines[p.e],
					NewController: func() (control.Controller, error) { return opts.NewController(name, engines[p.e].Name()) },
					StepMS:        &steps,
					NewTracer:     tracer(opts, name),
					Progress: func(d int) {
						mu.Lock()
						done += d - last
						last = d
						n := done
						mu.Unlock()
						if opts.Progress != nil {
							opts.Progress(n)
						}
					},
				})
				if err != nil {
					errs[k] = fmt.Errorf("%s on %s (%s engine): %w", name, scs[p.s].Name, engines[p.e].Name(), err)
					continue
				}
				entries[k] = Entry{Summary: sum, stepMS: steps, results: res,
					ByYaw:    bins(res, yawOf, yawBinDeg),
					BySpeed:  bins(res, speedOf, speedBinMPS),
					Failures: failures(res)}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	rate := opts.Sim.ControlRateHz
	if rate == 0 {
		rate = 250 // sim.Config's default
	}
	r := &Results{Seed: opts.Seed, Trials: opts.Trials, Provenance: opts.Provenance, Notes: opts.Notes, TickMS: 1000 / rate, Entries: entries}
	if len(engines) > 1 {
		for _, e := range engines {
			r.Engines = append(r.Engines, e.Name())
		}
		r.Gaps = gaps(r)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(opts.Out, "results.json"), append(data, '\n')); err != nil {
		return nil, err
	}
	timing := TimingFile{Provenance: opts.Provenance, TickMS: r.TickMS, Pairs: make([]Timing, len(entries))}
	for i, e := range entries {
		timing.Pairs[i] = Timing{Controller: e.Controller, Scenario: e.Scenario, Engine: e.Engine, ComputeMS: e.ComputeMS, WallS: e.WallS,
			CPUS: e.CPUS, TrialsPerCPUS: e.TrialsPerCPUS}
	}
	if data, err = json.MarshalIndent(timing, "", "  "); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(opts.Out, "timing.json"), append(data, '\n')); err != nil {
		return nil, err
	}
	// The single-engine report, tables and plots describe the reference
	// engine; the others get their trials.csv and the gap section.
	ref := r.engine(engines[0].Name())
	if err := writeTrialsCSV(filepath.Join(opts.Out, "trials.csv"), ref); err != nil {
		return nil, err
	}
	for _, e := range engines[1:] {
		if err := writeTrialsCSV(filepath.Join(opts.Out, "trials_"+e.Name()+".csv"), r.engine(e.Name())); err != nil {
			return nil, err
		}
	}
	pics, err := tracePictures(ref, opts, scs, pictureTrials)
	if err != nil {
		return nil, err
	}
	plots, err := writePlots(ref, opts, pics)
	if err != nil {
		return nil, err
	}
	report := Report(ref, plots)
	if len(engines) > 1 {
		gp, err := gapPlot(r)
		if err != nil {
			return nil, fmt.Errorf("plot gap.png: %w", err)
		}
		path := filepath.Join(opts.Out, "gap.png")
		if err := gp.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
			return nil, fmt.Errorf("plot gap.png: %w", err)
		}
		if err := provenance.StampPNG(path, r.Provenance); err != nil {
			return nil, fmt.Errorf("plot gap.png: %w", err)
		}
		report += GapSection(r, "gap.png")
	}
	if err := writeAtomic(filepath.Join(opts.Out, "report.md"), []byte(report)); err != nil {
		return nil, err
	}
	return r, nil
}

// tracer returns the trace writer factory of a controller's pairs, or nil
// without opts.TraceDir.
func tracer(opts Options, name string) func() (sim.Tracer, error) {
	if opts.TraceDir == "" {
		return nil
	}
	rate := opts.Sim.ControlRateHz
	if rate == 0 {
		rate = 250
	}
	return func() (sim.Tracer, error) {
		return &trace.Writer{Dir: opts.TraceDir, Controller: name, Seed: opts.Seed, RateHz: rate, Provenance: opts.Provenance}, nil
	}
}

// Bin widths of the success-by-parameter tables and plots.
const (
	yawBinDeg   = 2.0
	speedBinMPS = 0.25
)

func yawOf(r *sim.TrialResult) float64   { return r.YawDeg }
func speedOf(r *sim.TrialResult) float64 { return r.HorizontalSpeed }

// failures counts the trials not caught by reason.
func failures(res []sim.TrialResult) map[string]int {
	out := map[string]int{}
	for i := range res {
		if f := res[i].FailureReason(); f != "" {
			out[f]++
		}
	}
	return out
}

// bins groups catchable trials by a throw parameter into bins of width w
// aligned on multiples of w, spanning every catchable trial (so the bins'
// counts add up to the catchable count); only bins with trials are kept.
func bins(res []sim.TrialResult, key func(*sim.TrialResult) float64, w float64) []Bin {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range res {
		if res[i].Catchable {
			v := key(&res[i])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if lo > hi {
		return nil
	}
	lo = math.Floor(lo/w) * w
	n := int(math.Floor((hi-lo)/w)) + 1
	out := make([]Bin, n)
	for i := range out {
		out[i].Lo, out[i].Hi = lo+float64(i)*w, lo+float64(i+1)*w
		out[i].Center = (out[i].Lo + out[i].Hi) / 2
	}
	for i := range res {
		r := &res[i]
		if !r.Catchable {
			continue
		}
		k := min(max(int(math.Floor((key(r)-lo)/w)), 0), n-1)
		out[k].Catchable++
		if r.Caught {
			out[k].Caught++
		}
	}
	var kept []Bin
	for _, b := range out {
		if b.Catchable == 0 {
			continue
		}
		b.Rate = float64(b.Caught) / float64(b.Catchable)
		b.CI95 = sim.ClopperPearson(b.Caught, b.Catchable, 0.05)
		kept = append(kept, b)
	}
	return kept
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// controllersOf lists the entries' controllers in order of appearance.
func controllersOf(r *Results) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range r.Entries {
		if !seen[e.Controller] {
			seen[e.Controller] = true
			out = append(out, e.Controller)
		}
	}
	return out
}

func scenariosOf(r *Results) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range r.Entries {
		if !seen[e.Scenario] {
			seen[e.Scenario] = true
			out = append(out, e.Scenario)
		}
	}
	return out
}

func entry(r *Results, c, s string) *Entry {
	for i := range r.Entries {
		if r.Entries[i].Controller == c && r.Entries[i].Scenario == s {
			return &r.Entries[i]
		}
	}
	return nil
}

// jsonUnmarshal reads results.json back (entries without the unexported
// per-trial data).
func jsonUnmarshal(data []byte, r *Results) error { return json.Unmarshal(data, r) }
