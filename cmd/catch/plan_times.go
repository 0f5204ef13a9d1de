package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"sync"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// setComputeModel applies --compute-model to a controller built for a run.
func setComputeModel(c control.Controller, name string) error {
	switch name {
	case "none":
		return nil
	case "fitted":
		m, ok := c.(*mpc.Controller)
		if !ok {
			return fmt.Errorf("--compute-model fitted: only the mpc controller has a compute model (got %s); use none", c.Name())
		}
		model := mpc.FittedComputeModel
		return m.SetComputeModel(&model)
	}
	return fmt.Errorf("--compute-model %q: accepted: none, fitted", name)
}

// timedMPC measures the thread CPU time of each synchronous MPC step and
// pairs it with the re-plan's work.
type timedMPC struct {
	*mpc.Controller
	plans []mpc.PlanSample
	steps []float64 // µs, steps without a re-plan
}

func (t *timedMPC) Step(in *control.Input, out *control.Command) (control.Status, error) {
	start := cputime.Thread()
	st, err := t.Controller.Step(in, out)
	us := float64(cputime.Thread()-start) / 1e3
	if w, key, ok := t.LastWork(); ok {
		t.plans = append(t.plans, mpc.PlanSample{Work: w, Key: key, US: us})
	} else {
		t.steps = append(t.steps, us)
	}
	return st, err
}

// usQuantiles are plan or step times, µs.
type usQuantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	// OverTick is the fraction above the 4 ms control period.
	OverTick float64 `json:"over_tick"`
}

func quantilesUS(x []float64, tickUS float64) usQuantiles {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	q := usQuantiles{N: len(s)}
	if len(s) == 0 {
		return q
	}
	at := func(p float64) float64 { return s[max(0, min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1))] }
	q.P50, q.P99, q.Max = at(0.5), at(0.99), s[len(s)-1]
	over := 0
	for _, v := range s {
		if v > tickUS {
			over++
		}
	}
	q.OverTick = float64(over) / float64(len(s))
	return q
}

// planTimesSet is the measurement on one scenario.
type planTimesSet struct {
	Scenario  string      `json:"scenario"`
	Trials    int         `json:"trials"`
	Seed      uint64      `json:"seed"`
	Measured  usQuantiles `json:"measured_plan_us"`
	Predicted usQuantiles `json:"predicted_plan_us"`
	Steps     usQuantiles `json:"measured_step_us"`
	// MedianAbsRelErr is the median of |predicted − measured| / measured
	// over the plans.
	MedianAbsRelErr float64 `json:"median_abs_rel_err"`
}

type planTimesOut struct {
	// Fit is the set the model was fitted on; Eval are held-out scenarios
	// (other throws, other seed) it is checked on.
	Fit        planTimesSet       `json:"fit"`
	Model      mpc.ComputeModel   `json:"model"`
	Shipped    mpc.ComputeModel   `json:"shipped_model"`
	Eval       []planTimesSet     `json:"eval"`
	Clock      string             `json:"clock"`
	Provenance provenance.Record  `json:"provenance"`
	ShippedOn  []planTimesSetLite `json:"shipped_model_on_eval"`
}

type planTimesSetLite struct {
	Scenario        string      `json:"scenario"`
	Predicted       usQuantiles `json:"predicted_plan_us"`
	MedianAbsRelErr float64     `json:"median_abs_rel_err"`
}

func init() {
	var (
		scenario, evalScenarios, cfgPath string
		trials, evalTrials, workers      int
		seed, evalSeed                   uint64
		asJSON                           bool
	)
	cmd := &cobra.Command{
		Use:   "plan-times",
		Short: "Measure the synchronous MPC's plan times and fit the compute model the simulator charges",
		Long: `Runs the MPC synchronously in the simulator on --scenario, measures the
thread CPU time of every controller step, fits mpc.ComputeModel (plan time
as a linear function of the plan's work: starts, SQP iterations, QP solves,
ADMM iterations) and checks the fit on held-out scenarios (--eval-scenarios,
--eval-seed). The model in the binary (mpc.FittedComputeModel, used by
catch sim --compute-model fitted) is evaluated beside it. Times are the
calling thread's CPU time, so other processes on the machine inflate them
less than wall time; they still depend on the CPU.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trials <= 0 || evalTrials <= 0 {
				return fmt.Errorf("--trials %d, --eval-trials %d: want > 0", trials, evalTrials)
			}
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			cfg.MPC.Async = false
			rob, err := robot.Load(cfg.Robot)
			if err != nil {
				return err
			}
			fitSc, err := sim.Lookup(scenario)
			if err != nil {
				return err
			}
			var evals []*sim.Scenario
			for _, n := range splitList(evalScenarios) {
				sc, err := sim.Lookup(n)
				if err != nil {
					return err
				}
				evals = append(evals, sc)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			measure := func(sc *sim.Scenario, n int, sd uint64) ([]mpc.PlanSample, []float64, error) {
				var mu sync.Mutex
				var all []*timedMPC
				_, _, err := sim.Run(ctx, sim.RunOptions{
					Scenario: sc, Robot: rob, Config: cfg.Sim, Trials: n, Seed: sd, Workers: workers,
					NewController: func() (control.Controller, error) {
						c, err := launch.NewController("mpc", rob, &cfg)
						if err != nil {
							return nil, err
						}
						t := &timedMPC{Controller: c.(*mpc.Controller)}
						mu.Lock()
						all = append(all, t)
						mu.Unlock()
						return t, nil
					},
					Progress: newBar(cmd.ErrOrStderr(), n, "plan-times/"+sc.Name),
				})
				var plans []mpc.PlanSample
				var steps []float64
				for _, t := range all {
					plans = append(plans, t.plans...)
					steps = append(steps, t.steps...)
				}
				return plans, steps, err
			}
			const tickUS = 4000
			set := func(sc *sim.Scenario, n int, sd uint64, plans []mpc.PlanSample, steps []float64, m *mpc.ComputeModel) (planTimesSet, planTimesSetLite) {
				meas := make([]float64, len(plans))
				pred := make([]float64, len(plans))
				rel := make([]float64, len(plans))
				for i, p := range plans {
					meas[i] = p.US
					pred[i] = float64(m.PlanTime(p.Work, p.Key).Nanoseconds()) / 1e3
					rel[i] = math.Abs(pred[i]-meas[i]) / math.Max(meas[i], 1)
				}
				sort.Float64s(rel)
				mre := 0.0
				if len(rel) > 0 {
					mre = rel[len(rel)/2]
				}
				return planTimesSet{Scenario: sc.Name, Trials: n, Seed: sd, Measured: quantilesUS(meas, tickUS),
						Predicted: quantilesUS(pred, tickUS), Steps: quantilesUS(steps, tickUS), MedianAbsRelErr: mre},
					planTimesSetLite{Scenario: sc.Name, Predicted: quantilesUS(pred, tickUS), MedianAbsRelErr: mre}
			}
			plans, steps, err := measure(fitSc, trials, seed)
			if err != nil {
				return failed(err)
			}
			src := fmt.Sprintf("catch plan-times --scenario %s --trials %d --seed %d (thread CPU time)", fitSc.Name, trials, seed)
			model, err := mpc.FitComputeModel(plans, steps, src)
			if err != nil {
				return failed(err)
			}
			shipped := mpc.FittedComputeModel
			out := planTimesOut{Model: model, Shipped: shipped, Clock: "thread CPU time (CLOCK_THREAD_CPUTIME_ID)", Provenance: record(&cfg, seed)}
			out.Fit, _ = set(fitSc, trials, seed, plans, steps, &model)
			for _, sc := range evals {
				p, s, err := measure(sc, evalTrials, evalSeed)
				if err != nil {
					return failed(err)
				}
				e, _ := set(sc, evalTrials, evalSeed, p, s, &model)
				_, lite := set(sc, evalTrials, evalSeed, p, s, &shipped)
				out.Eval = append(out.Eval, e)
				out.ShippedOn = append(out.ShippedOn, lite)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w, "fit on %s (%d trials, seed %d): %d plans, measured p50 %.0f µs, p99 %.0f µs, max %.0f µs, %.1f%% over the 4 ms tick\n",
				out.Fit.Scenario, trials, seed, out.Fit.Measured.N, out.Fit.Measured.P50, out.Fit.Measured.P99, out.Fit.Measured.Max, 100*out.Fit.Measured.OverTick)
			fmt.Fprintf(w, "model: step %.0f µs; plan %.0f + %.1f/start + %.1f/SQP iteration + %.1f/QP solve + %.2f/ADMM iteration µs\n",
				model.StepUS, model.PlanUS, model.StartUS, model.SQPIterUS, model.QPSolveUS, model.QPIterUS)
			for i, e := range out.Eval {
				fmt.Fprintf(w, "held-out %s (%d trials, seed %d): measured p50/p99/max %.0f/%.0f/%.0f µs, predicted %.0f/%.0f/%.0f µs, median |error| %.0f%% (shipped model %.0f%%)\n",
					e.Scenario, e.Trials, e.Seed, e.Measured.P50, e.Measured.P99, e.Measured.Max, e.Predicted.P50, e.Predicted.P99, e.Predicted.Max,
					100*e.MedianAbsRelErr, 100*out.ShippedOn[i].MedianAbsRelErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "nominal", "scenario the model is fitted on")
	f.IntVar(&trials, "trials", 200, "throws to fit on")
	f.Uint64Var(&seed, "seed", 101, "random seed of the fit set")
	f.StringVar(&evalScenarios, "eval-scenarios", "fast,slow,wide-yaw,hand-lob,light-ball,laggy", "held-out scenarios the fit is checked on (comma-separated)")
	f.IntVar(&evalTrials, "eval-trials", 50, "throws per held-out scenario")
	f.Uint64Var(&evalSeed, "eval-seed", 102, "random seed of the held-out sets")
	f.IntVar(&workers, "workers", 0, "parallel workers (default: all cores)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (mpc settings; mpc.async is ignored)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
}
