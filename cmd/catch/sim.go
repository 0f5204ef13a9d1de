package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception/vision"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/trace"
)

func init() {
	var (
		ctrl, scenario, logPath, cfgPath, fidelity string
		policyPath, fcModel, traceDir, engine      string
		fcSamples                                  int
		trials, workers                            int
		seed                                       uint64
		asJSON                                     bool
		computeModel                               string
		async                                      bool
		bgSet                                      string
		clutter                                    bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run simulated catching trials and print the success statistics",
		Long: `Runs --trials simulated throws of a scenario against a controller, in
parallel on all cores (results do not depend on the core count), and prints
success over catchable throws with a 95% Clopper–Pearson interval, limit
violations, modality, compute time per controller step and miss distances.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fidelity != "state" && fidelity != "camera" {
				return fmt.Errorf("--fidelity %q: accepted: state, camera", fidelity)
			}
			cfg, err := launch.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if policyPath != "" {
				if ctrl == "es-paper" {
					cfg.ES.PaperPolicy = policyPath
				} else {
					cfg.ES.Policy = policyPath
				}
			}
			if cmd.Flags().Changed("async") {
				cfg.MPC.Async = async
			}
			sc, rob, eng, err := trialSetup(scenario, engine, &cfg)
			if err != nil {
				return err
			}
			ecfg := cfg.ForEngine(eng.Name()) // the fused θ fine-tuned in the engine
			if c, err := launch.NewController(ctrl, rob, ecfg); err != nil {
				return err
			} else if err := setComputeModel(c, computeModel); err != nil {
				return err
			}
			if fcModel != "" && ctrl != "mpc" {
				return fmt.Errorf("--forecast: only the mpc controller uses forecast samples (got --controller %s)", ctrl)
			}
			if trials <= 0 {
				return fmt.Errorf("--trials %d: want > 0", trials)
			}
			var log io.Writer
			if logPath != "" {
				// Append-only; a file that is not such a log is refused, a
				// torn last line from a crash is cut (package triallog).
				w, err := triallog.Open(logPath, triallog.Options{NoSync: true, Check: sim.CheckLogLine})
				if err != nil {
					return fmt.Errorf("--log: %w", err)
				}
				defer w.Close()
				log = w
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			var newFc func() (sim.Forecaster, control.Forecast, error)
			if fcModel != "" {
				newFc = func() (sim.Forecaster, control.Forecast, error) {
					return launch.NewSimForecaster(fcModel, sc.BallProps(), fcSamples)
				}
				// Fail on a bad model file before any trial runs.
				f, _, err := launch.NewSimForecaster(fcModel, sc.BallProps(), fcSamples)
				if err != nil {
					return fmt.Errorf("--forecast: %w", err)
				}
				_ = f.Close()
			}
			var newTracer func() (sim.Tracer, error)
			if traceDir != "" {
				if err := os.MkdirAll(traceDir, 0o755); err != nil {
					return fmt.Errorf("--trace: %w", err)
				}
				prov, rate := record(&cfg, seed), cfg.Sim.ControlRateHz
				if rate == 0 {
					rate = 250
				}
				newTracer = func() (sim.Tracer, error) {
					return &trace.Writer{Dir: traceDir, Controller: ctrl, Seed: seed, RateHz: rate, Provenance: prov}, nil
				}
			}
			var newObs func() (sim.Observer, error)
			if fidelity == "camera" {
				var photos []string
				if bgSet != "" && bgSet != "plain" {
					if photos, err = vision.BackgroundSet(bgSet); err != nil {
						return fmt.Errorf("--background-set: %w", err)
					}
				}
				newObs = func() (sim.Observer, error) { return newCameraObserver(sc.BallProps(), photos, clutter) }
			} else if bgSet != "" || clutter {
				return errors.New("--background-set and --clutter need --fidelity camera")
			}
			bar := newBar(cmd.ErrOrStderr(), trials, fmt.Sprintf("%s/%s", ctrl, sc.Name))
			sum, _, err := sim.Run(ctx, sim.RunOptions{
				Scenario: sc, Robot: rob, Config: cfg.Sim, Trials: trials, Seed: seed, Workers: workers, Engine: eng,
				NewController: func() (control.Controller, error) {
					c, err := launch.NewController(ctrl, rob, ecfg)
					if err == nil {
						err = setComputeModel(c, computeModel)
					}
					return c, err
				},
				NewObserver:   newObs,
				NewForecaster: newFc,
				Fidelity:      fidelity,
				Log:           log,
				Provenance:    record(&cfg, seed),
				NewTracer:     newTracer,
				RunID:         triallog.NewRunID(),
				Progress:      bar,
			})
			if err != nil {
				return failed(err)
			}
			return printSummary(cmd.OutOrStdout(), sum, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ctrl, "controller", defaultController(), "controller: "+joinNames(launch.Controllers()))
	f.StringVar(&scenario, "scenario", "nominal", "scenario name ("+joinNames(sim.Names())+") or a scenario .yaml file")
	countFlag(f, &trials, "trials", 100, 1, sim.MaxTrials, "number of throws")
	f.Uint64Var(&seed, "seed", 1, "random seed (same seed, same results)")
	f.IntVar(&workers, "workers", 0, "parallel workers (default: all cores); results do not depend on it")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&logPath, "log", "", "append one JSON line per trial to this file, in trial order, with run id, controller, seed and provenance (a file that is not such a log is refused)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (robot, sim, controllers)")
	f.StringVar(&traceDir, "trace", "", "write one per-tick trace per trial into this directory (CSV, docs/traces.md)")
	f.StringVar(&engine, "engine", "kinematic", "physics engine: "+joinNames(launch.Engines())+" (kinematic is the fast default; mujoco simulates the arm's dynamics, the net and the ball in MuJoCo)")
	f.StringVar(&bgSet, "background-set", "", "camera fidelity: render over this set's photographs ("+strings.Join(vision.BackgroundSetNames(), ", ")+"; one per throw) instead of the generated scene")
	f.BoolVar(&clutter, "clutter", false, "camera fidelity: add lab clutter (balls on the floor, a rolling ball, yellow shirt and logo, cone, pole, drifting light)")
	f.StringVar(&fidelity, "fidelity", "state", "perception fidelity: state (3D observations with noise) or camera (rendered frames, real detector)")
	f.StringVar(&fcModel, "forecast", "", "give the controller forecast samples: physics (drag/Magnus baseline) or an interpolant model FILE.onnx (the MPC's robust mode uses them)")
	countFlag(f, &fcSamples, "forecast-samples", 256, 1, launch.MaxForecastSamples, "samples per forecast")
	f.StringVar(&computeModel, "compute-model", "none", "charge each controller step its compute time: none, or fitted (mpc: the model fitted to measured plan times, mpc.FittedComputeModel; sync plans delay their command and skip the ticks they overrun, async plans are published when their modelled time has passed)")
	f.BoolVar(&async, "async", false, "mpc plans asynchronously (sets mpc.async); pair with --compute-model fitted to evaluate it as it would run")
	f.StringVar(&policyPath, "policy", "", "policy file for --controller es (overrides es.policy; any class) or es-paper (overrides es.paper_policy; paper class); default: the shipped one")
	root.AddCommand(cmd)
}

func printSummary(w io.Writer, s sim.Summary, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(w, "%s on %s (%s engine, %s fidelity, seed %d): %d trials, %d catchable, %d caught\n",
		s.Controller, s.Scenario, s.Engine, s.Fidelity, s.Seed, s.Trials, s.Catchable, s.Caught)
	fmt.Fprintf(w, "  success %.1f%% (95%% CI %.1f–%.1f%%), limit violations %d\n",
		100*s.SuccessRate, 100*s.CI95[0], 100*s.CI95[1], s.LimitViolations)
	if s.LimitViolations > 0 {
		fmt.Fprintf(w, "  limit violations by kind (%d trials with any): %s\n", s.ViolationTrials, violationKinds(&s.ViolationKinds))
	}
	fmt.Fprintf(w, "  modality left %d / right %d; compute p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		s.Modality.Left, s.Modality.Right, s.ComputeMS.P50, s.ComputeMS.P99, s.ComputeMS.Max)
	if len(s.FailureReasons) > 0 {
		fmt.Fprintf(w, "  failure reasons:")
		for _, k := range sortedKeys(s.FailureReasons) {
			fmt.Fprintf(w, " %s %d", k, s.FailureReasons[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  miss distance p50 %.3f m, p95 %.3f m; %.0f trials/s", s.MissDistanceM.P50, s.MissDistanceM.P95, s.TrialsPerS)
	if s.TrialsPerCPUS > 0 {
		fmt.Fprintf(w, " (%d workers, %.1f trials per CPU second)", s.Workers, s.TrialsPerCPUS)
	}
	fmt.Fprintln(w)
	return nil
}

// violationKinds is the one-line breakdown of limit violations by cause
// (sim.ViolationKinds).
func violationKinds(v *sim.ViolationKinds) string {
	out := fmt.Sprintf("%d commands outside a limit (position %d, velocity %d, acceleration %d, workspace %d, lead %d, non-finite %d); %d control periods at a physical limit",
		v.Commands, v.Position, v.Velocity, v.Accel, v.Workspace, v.Lead, v.NaN, v.EnginePeriods)
	if v.EnginePeriods > 0 {
		out += " (torque-saturated steps:"
		for _, j := range sortedKeys(v.TorqueSaturated) {
			out += fmt.Sprintf(" %s %d", j, v.TorqueSaturated[j])
		}
		if len(v.TorqueSaturated) == 0 {
			out += " none"
		}
		out += fmt.Sprintf("; %d steps with any, %d of them within 10 periods after one of %d commands beyond the acceleration limit, %d while the ball touched the robot or just after, %d near neither", v.SaturatedSteps, v.SaturatedAfterInfeasible, v.InfeasibleCommands, v.SaturatedByBall, v.SaturatedOther)
		out += fmt.Sprintf("; collision steps: self %d, rail %d, floor %d)", v.SelfCollision, v.RailCollision, v.FloorCollision)
	}
	return out
}

// defaultController is the controller `catch sim` runs without
// --controller: mpc when it is built in (the hold baseline catches
// nothing).
func defaultController() string {
	if slices.Contains(launch.Controllers(), "mpc") {
		return "mpc"
	}
	return "hold"
}

// newBar returns a progress callback: a bar on a terminal, otherwise a
// plain line ("desc: 30/300 trials") at every tenth of the run and at the
// end, so logs of long runs show that they advance.
func newBar(w io.Writer, n int, desc string) func(int) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
		return func(done int) { _ = bar.Set(done) }
	}
	var mu sync.Mutex
	last := 0
	return func(done int) {
		mu.Lock()
		defer mu.Unlock()
		if done <= last || (done*10/n == last*10/n && done != n) {
			return
		}
		last = done
		fmt.Fprintf(w, "%s: %d/%d trials\n", desc, done, n)
	}
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
