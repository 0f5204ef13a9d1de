package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/sim"
)

// scenarioWithBall returns sc with its ball replaced by a named set (through YAML, so the
// scenario's defaults and validation apply).
func scenarioWithBall(sc *sim.Scenario, name string) (*sim.Scenario, error) {
	if name == "" || name == sc.Ball {
		return sc, nil
	}
	if _, err := ball.ByName(name); err != nil {
		return nil, fmt.Errorf("--ball: %w", err)
	}
	c := *sc
	c.Ball = name
	data, err := yaml.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return sim.ParseScenario(data)
}

func init() {
	var (
		scenario, ballName, out, trajectories, hidden, ckpt, lossPNG, datasetOut string
		episodes, perFlight, steps, distill, batch, distillConds, emSteps        int
		seed                                                                     uint64
		latencyMS, lr, eps                                                       float64
		force, residual, spreadWorld                                             bool
		innerFolds                                                               int
		spinPrior                                                                string
		sel                                                                      selectFlags
	)
	cmd := &cobra.Command{
		Use:   "forecast",
		Short: "Train a stochastic-interpolant trajectory forecaster and export it to ONNX",
		Long: `Generates a dataset of observation windows and true futures from --episodes
simulated throws of --scenario (with the scenario's camera rate, noise, dropouts
and latency), or from recorded flights (--trajectories, CSV with t or t_ns and
x,y,z or x_m,y_m,z_m; cut at gaps > 0.1 s and bounces), trains the drift network
of the interpolant by square-loss regression, picks the diffusion on held-out
windows, distils a 1–4-step flow map and calibrates its noise scale on the same
windows, and writes FILE.onnx (drift) and FILE.flow.onnx (flow map), both ONNX
models carrying the metadata.

A checkpoint (default FILE.ckpt) is written atomically as training goes; a run
started again with the same arguments resumes from it, and it is removed when
the model is written. The checkpoint records the settings and a hash of the
dataset: a run with other ones is refused (--force resumes it anyway). The loss curve goes to FILE.loss.png.

--residual (with --trajectories) trains instead the forecaster of catch forecast
cv --train --residual on all the selected flights, as that command does for one
fold: it fits the ball's C_d and g, the estimator (process noise, spin table of
the flights' fits) and the baseline's spread, splits the files by file into
--inner-folds inner folds, trains one residual model per inner fold on the
others' flights, calibrates their spread on their out-of-fold forecasts, and
writes the members FILE.0.onnx … and the manifest FILE.residual.json (catch
forecast eval --model FILE.residual.json). No checkpoint or loss curve. The
models condition on the ball's world position: they are for the installation
the flights were recorded at.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || !strings.HasSuffix(out, ".onnx") {
				return fmt.Errorf("--out %q: want a FILE.onnx path", out)
			}
			if (scenario == "") == (trajectories == "") {
				return fmt.Errorf("give exactly one of --scenario or --trajectories")
			}
			hid, err := parseHidden(hidden)
			if err != nil {
				return err
			}
			tc := forecast.TrainConfig{Hidden: hid, Steps: steps, DistillSteps: distill, DistillConds: distillConds, EMSteps: emSteps, Batch: batch, LR: lr, Eps: eps, Seed: seed,
				Checkpoint: ckpt, LossPNG: lossPNG, Force: force}
			if tc.Checkpoint == "" {
				tc.Checkpoint = strings.TrimSuffix(out, ".onnx") + ".ckpt"
			}
			if tc.LossPNG == "" {
				tc.LossPNG = strings.TrimSuffix(out, ".onnx") + ".loss.png"
			}
			if err := tc.Validate(); err != nil {
				return err
			}
			prov := record(&launch.Config{}, seed)
			if residual {
				if trajectories == "" {
					return fmt.Errorf("--residual: needs --trajectories (recorded flights of the installation it is for)")
				}
				if !cmd.Flags().Changed("distill-conds") {
					tc.DistillConds = 1000 // as catch forecast cv
				}
				return trainResidual(cmd.OutOrStdout(), trajectories, ballName, spinPrior, innerFolds, spreadWorld, sel, tc, prov, out)
			}
			wc := forecast.WindowConfig{PerFlight: perFlight}
			meta := forecast.Meta{Seed: seed, Episodes: episodes, Build: json.RawMessage(prov.JSON())}
			var windows []forecast.Window
			start := time.Now()
			if scenario != "" {
				sc, err := sim.Lookup(scenario)
				if err != nil {
					return err
				}
				if sc, err = scenarioWithBall(sc, ballName); err != nil {
					return err
				}
				if episodes < 1 {
					return fmt.Errorf("--episodes %d: want ≥ 1", episodes)
				}
				meta.Ball = sc.BallProps()
				meta.LatencyS = sc.Observation.LatencyMS / 1000
				meta.Source = "sim:" + sc.Name
				if windows, err = forecast.SimWindows(sc, episodes, seed, wc); err != nil {
					return err
				}
			} else {
				p, err := recordedBall(ballName)
				if err != nil {
					return err
				}
				flights, _, fs, err := sel.read(trajectories)
				if err != nil {
					return err
				}
				meta.Ball = p
				meta.LatencyS = latencyMS / 1000
				meta.Source = "recorded:" + trajectories + " (files " + fs.String() + ")"
				meta.Episodes = len(flights)
				// Pre-bounce windows with at least 0.1 s of recording ahead; the horizon past
				// the bounce is the flight's fitted free flight (CompleteWindows).
				windows = forecast.FlightWindows(flights, meta.LatencyS, 0.02, 0.1, wc)
				var completed, dropped int
				windows, completed, dropped = forecast.CompleteWindows(meta.Ball, flights, windows, wc.Horizons.WithDefaults().Dt)
				fmt.Fprintf(os.Stderr, "catch: %d windows from %d flights, %d completed past a bounce with the fitted flight, %d dropped (flight too short to fit)\n", len(windows), len(flights), completed, dropped)
			}
			ds, skipped := forecast.BuildDataset(&meta.Ball, windows, wc)
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			logger.Info("dataset", "source", meta.Source, "examples", ds.Len(), "skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
			if datasetOut != "" {
				f, err := os.Create(datasetOut)
				if err != nil {
					return fmt.Errorf("--dataset-out: %w", err)
				}
				if _, err := ds.WriteTo(f); err != nil {
					f.Close()
					return failed(err)
				}
				if err := f.Close(); err != nil {
					return failed(err)
				}
			}
			tc.Log = logger
			var progress io.Writer
			if term.IsTerminal(int(os.Stderr.Fd())) {
				progress = os.Stderr
			}
			tc.Progress = progress
			m, rep, err := forecast.Train(ds, meta, tc)
			if err != nil {
				return failed(err)
			}
			if err := m.Save(out); err != nil {
				return failed(err)
			}
			if _, err := os.Stat(tc.LossPNG); err == nil {
				if err := provenance.StampPNG(tc.LossPNG, prov); err != nil {
					return failed(err)
				}
			}
			os.Remove(tc.Checkpoint)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s", out)
			if m.Flow != nil {
				fmt.Fprintf(w, " and %s", forecast.FlowPath(out))
			}
			fmt.Fprintf(w, " (%d examples, %d held out; drift loss %.4g, flow loss %.4g; diffusion %s; %s)\n",
				rep.Examples, rep.Held, rep.DriftLoss, rep.FlowLoss, m.Meta.Diffusion, time.Since(start).Round(time.Second))
			for _, q := range rep.Quality {
				fmt.Fprintf(w, "  held-out energy score %-4s %3d steps %-8s %.4f m\n", q.Method, q.Steps, q.Diffusion, q.EnergyScore)
			}
			if m.Flow != nil {
				fmt.Fprintf(w, "  flow map noise scale %g (calibrated: held-out 90%% intervals at 0.3 s cover closest to 90%%)\n", m.Meta.FlowNoise)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "", "scenario name or .yaml file to simulate throws from")
	f.StringVar(&ballName, "ball", "", "ball set (overrides the scenario's; required with --trajectories, where a ball YAML file of catch fit ball also works)")
	countFlag(f, &episodes, "episodes", 2000, 1, sim.MaxTrials, "simulated throws")
	countFlag(f, &perFlight, "per-flight", 8, 1, 1000, "windows (forecast times) per flight")
	f.Uint64Var(&seed, "seed", 1, "seed of the throws, the initialisation and the minibatches")
	f.StringVar(&out, "out", "", "output model FILE.onnx (the flow map goes to FILE.flow.onnx)")
	f.StringVar(&trajectories, "trajectories", "", "recorded flights: a CSV file, a trial log (*.jsonl) or a directory of them")
	f.Float64Var(&latencyMS, "latency-ms", 0, "observation latency assumed for recorded flights, ms")
	f.StringVar(&hidden, "hidden", "128,128", "hidden layer widths")
	f.IntVar(&steps, "steps", 2500, "Adam steps on the drift")
	f.IntVar(&distill, "distill-steps", 1500, "Adam steps on the flow map (negative: no flow map)")
	countFlag(f, &distillConds, "distill-conds", 2000, 1, sim.MaxTrials, "training windows the teacher ODE is run from (4 trajectories each)")
	countFlag(f, &batch, "batch", 256, 1, 1<<16, "minibatch size")
	countFlag(f, &emSteps, "em-steps", 50, 1, 10000, "default Euler–Maruyama steps of the model (also used to pick the diffusion)")
	f.Float64Var(&lr, "lr", 2e-3, "peak learning rate")
	f.Float64Var(&eps, "eps", 1, "ε of the interpolant's σ(s) = ε(1−s)")
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint file (default FILE.ckpt)")
	f.BoolVar(&force, "force", false, "resume from the checkpoint even if it was written with other settings or data")
	f.StringVar(&lossPNG, "loss-png", "", "loss curve PNG (default FILE.loss.png)")
	f.StringVar(&datasetOut, "dataset-out", "", "also write the dataset to this file")
	f.BoolVar(&residual, "residual", false, "with --trajectories: train the residual ensemble of catch forecast cv --train --residual on all the selected flights: --inner-folds residual models (FILE.j.onnx) and the manifest FILE.residual.json (members, spread, the fitted ball and estimator); --distill-conds defaults to 1000 as in the cross-validation")
	countFlag(f, &innerFolds, "inner-folds", 4, 2, 20, "with --residual: inner folds of the files by file (one model each, trained on the others; the spread is calibrated on their out-of-fold forecasts)")
	f.StringVar(&spinPrior, "spin-prior", "table", "with --residual: the estimator's spin prior, table (learned from the flights' fits, stored in the manifest) or flat")
	f.BoolVar(&spreadWorld, "spread-world", false, "with --residual: calibrate the spreads per world axis (x, y, z) instead of per heading-frame axis (the cross-validation's best: --spread-world)")
	sel.add(f)
	trainParent().AddCommand(cmd)
}

// parseHidden reads --hidden: comma-separated positive layer widths.
func parseHidden(hidden string) ([]int, error) {
	var hid []int
	for _, f := range strings.Split(hidden, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("--hidden %q: want comma-separated positive widths", hidden)
		}
		hid = append(hid, v)
	}
	return hid, nil
}
