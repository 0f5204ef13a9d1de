package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception"
)

// forecastCV is the JSON of `catch forecast cv`.
type forecastCV struct {
	Provenance   provenance.Record `json:"provenance"`
	Trajectories string            `json:"trajectories"`
	Base         string            `json:"base_ball"`
	Folds        int               `json:"folds"`
	Samples      int               `json:"samples"`
	AtS          float64           `json:"at_s"`
	// Tuned says what was chosen on the training folds of each fold; HeldOut what the
	// scores are measured on.
	Tuned   string `json:"tuned"`
	HeldOut string `json:"held_out"`
	// Train are the interpolant's training settings (absent without --train).
	Train   *cvTrain           `json:"train,omitempty"`
	Result  *forecast.CVResult `json:"cv"`
	Seconds float64            `json:"seconds"`
}

type cvTrain struct {
	InnerFolds   int    `json:"inner_folds"`
	Steps        int    `json:"steps"`
	DistillSteps int    `json:"distill_steps"`
	DistillConds int    `json:"distill_conds"`
	Hidden       []int  `json:"hidden"`
	EMSteps      int    `json:"em_steps"`
	Seed         uint64 `json:"seed"`
}

func init() {
	var (
		trajectories, ballName         string
		spinPrior, hidden              string
		emSteps                        int
		folds, samples, steps, distill int
		distillConds, innerFolds       int
		seed                           uint64
		stride                         float64
		train, asJSON, spreadWorld     bool
		residual                       bool
	)
	cmd := &cobra.Command{
		Use:   "cv --trajectories DIR --ball NAME",
		Short: "Cross-validate the physics baseline (and an interpolant trained on the recordings) by file",
		Long: `K-fold cross-validation over the files of a directory of recorded flights,
split by file (file j of the sorted listing is in fold j%K). For each fold, on
the other folds' files only: the ball's C_d and g are fitted (as catch fit ball
does); the estimator's spin prior (--spin-prior table: the spins fitted to the
training flights that started at a similar place and velocity, each training
file's own flights left out while tuning; flat: zero mean) and its process
noise and prior scale are chosen from a grid by
the least mean error 0.3 s ahead; the samples' spread per axis of the heading
frame (along the track, across it, up) is scaled so that the central 90%
intervals cover 90% of the training truths; with --train the training files
are split once more by file into --inner-folds inner folds, and one interpolant
is trained per inner fold on the others' flights (pre-bounce windows; the
horizon past a bounce filled with the flight's fitted free flight); each
forecasts the windows of the inner fold it left out, and the spread per axis is
calibrated on those out-of-fold forecasts; the fold's forecaster is the mixture
of the inner models. Then both are scored on the fold's own files: energy
score, coverage of the 90% intervals and mean error at 0.3 s ahead. Prints each
fold and the mean of the folds, with provenance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trajectories == "" {
				return fmt.Errorf("--trajectories: required")
			}
			if ballName == "" {
				return fmt.Errorf("--ball: required (one of %s, or a ball YAML file)", strings.Join(ball.SetNames(), ", "))
			}
			base, err := loadBall(ballName)
			if err != nil {
				return err
			}
			if !(stride > 0 && stride <= 1) {
				return fmt.Errorf("--stride %v: want (0, 1] s", stride)
			}
			st, err := os.Stat(trajectories)
			if err != nil {
				return fmt.Errorf("--trajectories: %w", err)
			}
			if !st.IsDir() {
				return fmt.Errorf("--trajectories %s: want a directory (the folds are its files)", trajectories)
			}
			table, err := spinTableFlag(spinPrior)
			if err != nil {
				return err
			}
			cfg := forecast.CVConfig{SpinTable: table, Dir: trajectories, Base: base, Folds: folds, Samples: samples, Seed: seed, Stride: stride, Progress: os.Stderr, SpreadWorld: spreadWorld,
				NewTracker: cvTracker}
			out := forecastCV{Provenance: record(&launch.Config{}, seed), Trajectories: trajectories, Base: ballName, Folds: folds, Samples: samples, AtS: 0.3,
				Tuned:   "per fold, on the other folds' files only: C_d and g (ball fit), the estimator's spin prior (with --spin-prior table: a table of the training flights' fitted spins, leave-one-file-out on the training windows) and its process noise and prior σ scale (grid, least mean error at 0.3 s), the samples' spread per heading-frame axis (90% coverage of the training truths)",
				HeldOut: "every score under physics and interpolant: the fold's own files, never fitted, tuned or trained on"}
			if train {
				hid, err := parseHidden(hidden)
				if err != nil {
					return err
				}
				tc := forecast.TrainConfig{Hidden: hid, EMSteps: emSteps, Steps: steps, DistillSteps: distill, DistillConds: distillConds, Seed: seed}
				if err := tc.Validate(); err != nil {
					return err
				}
				cfg.Train = &tc
				cfg.Residual = residual
				cfg.InnerFolds = innerFolds
				out.Train = &cvTrain{InnerFolds: innerFolds, Steps: steps, DistillSteps: distill, DistillConds: distillConds, Hidden: hid, EMSteps: emSteps, Seed: seed}
				out.Tuned += fmt.Sprintf("; the interpolant: %d inner models, each trained (weights, diffusion, flow-noise scale) on the training files of all but one of %d inner folds by file, and its spread per axis (90%% coverage of the inner models' out-of-fold forecasts on the training files' windows)", innerFolds, innerFolds)
			}
			if residual && !train {
				return fmt.Errorf("--residual: needs --train")
			}
			start := time.Now()
			res, err := forecast.CrossValidate(cfg)
			if err != nil {
				return failed(err)
			}
			out.Result = res
			out.Seconds = time.Since(start).Seconds()
			return printForecastCV(cmd.OutOrStdout(), &out, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&trajectories, "trajectories", "", "directory of recorded flights (CSV or trial logs); its files are the folds' units")
	fl.StringVar(&ballName, "ball", "", "base ball set (its C_d and g are fitted per fold): a set name or a ball YAML file")
	countFlag(fl, &folds, "folds", 5, 2, 100, "folds")
	countFlag(fl, &samples, "samples", 256, 2, launch.MaxForecastSamples, "samples per forecast")
	fl.Float64Var(&stride, "stride", 0.05, "seconds between scored forecasts along a flight")
	fl.Uint64Var(&seed, "seed", 1001, "seed of the samplers, the calibration and the training")
	fl.BoolVar(&train, "train", false, "also train an interpolant per fold on the training folds' flights and score it")
	fl.IntVar(&steps, "steps", 2500, "with --train: Adam steps on the drift")
	fl.IntVar(&distill, "distill-steps", 1500, "with --train: Adam steps on the flow map")
	countFlag(fl, &distillConds, "distill-conds", 1000, 1, 1<<20, "with --train: training windows the distillation teacher is run from")
	fl.StringVar(&hidden, "hidden", "128,128", "with --train: hidden layer widths")
	countFlag(fl, &emSteps, "em-steps", 50, 1, 10000, "with --train: Euler–Maruyama steps of the models (also used to pick the diffusion)")
	countFlag(fl, &innerFolds, "inner-folds", 4, 2, 20, "with --train: inner folds of the training files (one model each, trained on the others; the spread is calibrated on their out-of-fold forecasts; the forecaster is their mixture)")
	fl.BoolVar(&residual, "residual", false, "with --train: the interpolant learns the residual of the baseline's mean forecast, conditioned on the fold's estimate (its speeds, spin, track, and world position and velocity; forecast.Residual) instead of the window fit")
	fl.BoolVar(&spreadWorld, "spread-world", false, "calibrate the baseline's spread per world axis (x, y, z) instead of per heading-frame axis")
	fl.StringVar(&spinPrior, "spin-prior", "table", "the estimator's spin prior: table (learned from the training folds' fitted flights that started alike) or flat (zero mean, σ from the fitted spins)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	for _, c := range root.Commands() {
		if c.Name() == "forecast" {
			c.AddCommand(cmd)
			return
		}
	}
	panic("catch forecast cv: no forecast command to add to")
}

// cvTracker is the estimator of the cross-validation's baseline and residual models (and
// of a residual ensemble, forecast.TrainResidualEnsemble): it tracks the spin.
func cvTracker(p ball.Props, q, spin float64, prior ball.SpinPrior) (forecast.Tracker, error) {
	return perception.NewEstimator(perception.EstimatorConfig{ProcessNoise: q, EstimateSpin: true, SpinPriorStd: spin, SpinPrior: prior}, p)
}

// spinTableFlag reads --spin-prior: table (a spin table of the training flights) or flat.
func spinTableFlag(spinPrior string) (*ball.SpinTableConfig, error) {
	switch spinPrior {
	case "table":
		return &ball.SpinTableConfig{}, nil
	case "flat":
		return nil, nil
	}
	return nil, fmt.Errorf("--spin-prior %q: want table or flat", spinPrior)
}

func printForecastCV(w io.Writer, o *forecastCV, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	r := o.Result
	fmt.Fprintf(w, "%d-fold cross-validation by file of %s (base ball %s), %d samples, scores %g s ahead on each fold's own files\n", o.Folds, o.Trajectories, o.Base, o.Samples, o.AtS)
	fmt.Fprintf(w, "%-5s %5s %7s %6s %17s %16s %9s %8s %16s %8s %7s\n", "fold", "wins", "C_d", "est q", "spread a,c,up", "phys cov90 xyz", "phys err", "phys ES", "model cov90 xyz", "model ES", "ratio")
	for _, f := range r.Folds {
		fmt.Fprintf(w, "%-5d %5d %7.4f %6.2g %5.2g %5.2g %5.2g %5.2f %4.2f %4.2f %7.1fmm %8.4f", f.Fold, f.TestWindows, f.Ball.Cd, f.EstimatorNoise,
			f.Spread[0], f.Spread[1], f.Spread[2], f.Physics.Cover90[0], f.Physics.Cover90[1], f.Physics.Cover90[2], f.Physics.MeanErr*1000, f.Physics.EnergyScore)
		if f.Interpolant != nil {
			fmt.Fprintf(w, " %5.2f %4.2f %4.2f %8.4f %7.3f", f.Interpolant.Cover90[0], f.Interpolant.Cover90[1], f.Interpolant.Cover90[2], f.Interpolant.EnergyScore, f.ESRatio)
		}
		fmt.Fprintln(w)
	}
	m := r.Mean
	fmt.Fprintf(w, "mean  %5d %7s %6s %17s %5.2f %4.2f %4.2f %7.1fmm %8.4f", m.PhysicsWindows, "", "", "", m.PhysicsCover90[0], m.PhysicsCover90[1], m.PhysicsCover90[2], m.PhysicsMeanErr*1000, m.PhysicsES)
	if o.Train != nil {
		fmt.Fprintf(w, " %5.2f %4.2f %4.2f %8.4f %7.3f", m.ModelCover90[0], m.ModelCover90[1], m.ModelCover90[2], m.ModelES, m.ESRatio)
	}
	fmt.Fprintln(w)
	if o.Train != nil {
		fmt.Fprintf(w, "interpolant mean error %.1f mm; pooled energy score ratio %.3f\n", m.ModelMeanErr*1000, m.PooledESRatio)
	}
	fmt.Fprintf(w, "tuned: %s\nheld out: %s\n(%.0f s)\n", o.Tuned, o.HeldOut, o.Seconds)
	return nil
}
