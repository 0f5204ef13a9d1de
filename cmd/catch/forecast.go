package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/forecast/ort"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/sim"
)

// forecastEval is the JSON of `catch forecast eval`.
type forecastEval struct {
	Model     string `json:"model"`
	Source    string `json:"source"`
	Windows   int    `json:"windows"`
	Sampler   string `json:"sampler"`
	Steps     int    `json:"steps"`
	Diffusion string `json:"diffusion"`
	// FlowNoise is the flow sampler's starting-noise scale used (flow only).
	FlowNoise float64 `json:"flow_noise,omitempty"`
	Device    string  `json:"device"`
	// Read counts the files, rows and flight pieces read and dropped (recorded flights).
	Read *forecast.ReadReport `json:"read,omitempty"`
	// Common is the number of windows every row forecast; the scores are means over them
	// (each row's Skipped counts its own skips over all windows).
	Common  int             `json:"common_windows"`
	Scores  forecast.Scores `json:"interpolant"`
	Physics forecast.Scores `json:"physics"`
	// ESRatio is the model's energy score over the baseline's on the common windows (below
	// 1: the model is better).
	ESRatio float64 `json:"energy_score_ratio"`
	// Guarded is the interpolant where the window's condition lies inside the model's
	// training envelope and the physics baseline elsewhere; GuardedRatio its energy score
	// over the baseline's.
	Guarded      forecast.Scores `json:"guarded"`
	GuardedRatio float64         `json:"guarded_ratio"`
	// Range splits the common windows by whether the condition lies inside the envelope.
	Range rangeSplit `json:"range"`
	// SpinRef (with --spin-prior) is the physics forecaster fed by an estimator that also
	// tracks the spin: the Gaussian filter of the true flight model, a reference for what the
	// observations say about spin. SpinRefRatio is its energy score over the baseline's.
	SpinRef      *forecast.Scores `json:"physics_spin,omitempty"`
	SpinRefRatio float64          `json:"physics_spin_ratio,omitempty"`
}

func init() {
	parent := &cobra.Command{Use: "forecast", Short: "Evaluate trajectory forecasters", Args: cobra.NoArgs}
	var (
		model, scenario, trajectories, ballName, method, diffusion, device string
		// atS is the horizon of the per-coordinate scores (EvalConfig.AtS).
		atS                                                          = 0.3
		n, samples, steps                                            int
		seed                                                         uint64
		asJSON                                                       bool
		stride, noise, minCover, flowNoise, spinPrior, refQ, refEstQ float64
		estQ, sampleQ, estSpinStd                                    float64
		estSpin                                                      bool
		sel                                                          selectFlags
	)
	eval := &cobra.Command{
		Use:   "eval",
		Short: "Score a forecast model and the physics baseline on simulated or recorded flights",
		Long: `Scores the interpolant model (run by ONNX Runtime) and the physics baseline
(the estimator's state and covariance flown with the drag/Magnus model) on the
same windows: --n simulated throws of --scenario (one forecast per throw, at a
random time 0.06–0.45 s into the flight), or every --stride seconds along the
recorded flights of --trajectories. Prints the energy score over the whole
horizon, CRPS per coordinate and the coverage of the central 50% and 90%
intervals at 0.3 s ahead, the error of the sample mean, and the time per
forecast.

--spin-prior S adds a reference row, physics-spin: the same physics sampler fed
by an estimator that tracks the spin too (prior σ S rad/s per axis; a spin of
uniform direction and magnitude U[0, m] rev/s has σ = 2πm/3), with
--ref-process-noise and --ref-estimator-noise. It shows how much of the spin
the observations reveal, which bounds what any forecaster of the history can
gain from it.

--model FILE.residual.json evaluates a residual ensemble (catch train forecast
--residual) on --trajectories against the calibrated physics baseline of its
manifest, both fed by the manifest's estimator (the one it was trained with);
--ball and the estimator flags do not apply to it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" {
				return fmt.Errorf("--model: required")
			}
			if !(spinPrior >= 0) {
				return fmt.Errorf("--spin-prior %v: want ≥ 0", spinPrior)
			}
			if !(refEstQ > 0) {
				return fmt.Errorf("--ref-estimator-noise %v: want > 0", refEstQ)
			}
			if strings.HasSuffix(model, ".residual.json") {
				if scenario != "" {
					return fmt.Errorf("--model %s: a residual ensemble is evaluated on recorded flights (--trajectories), not --scenario", model)
				}
				return evalResidual(cmd.OutOrStdout(), model, trajectories, sel, stride, minCover, atS, samples, seed, asJSON)
			}
			m, err := forecast.LoadModel(model)
			if err != nil {
				return err
			}
			if (scenario == "") == (trajectories == "") {
				return fmt.Errorf("give exactly one of --scenario or --trajectories")
			}
			if samples < 2 {
				return fmt.Errorf("--samples %d: want ≥ 2", samples)
			}
			sc := forecast.SamplerConfig{Method: method, Steps: steps, Diffusion: diffusion, FlowNoise: flowNoise}
			if steps > 0 && method == "" {
				sc.Method = forecast.MethodEM
				if steps <= 4 && m.Flow != nil {
					sc.Method = forecast.MethodFlow
				}
			}
			if _, err := forecast.NewInterpolant(m, nil, nil, sc); err != nil {
				return err
			}
			wc := forecast.WindowConfig{Horizons: m.Meta.Horizons, Fit: m.Meta.Fit}
			var windows []forecast.Window
			props := m.Meta.Ball
			var src string
			var read *forecast.ReadReport
			var cut forecast.CutConfig
			if scenario != "" {
				s, err := sim.Lookup(scenario)
				if err != nil {
					return err
				}
				if s, err = scenarioWithBall(s, ballName); err != nil {
					return err
				}
				if n < 1 {
					return fmt.Errorf("--n %d: want ≥ 1", n)
				}
				if s.Ball != m.Meta.Ball.Name {
					fmt.Fprintf(os.Stderr, "catch: warning: scenario ball %s, model trained for %s\n", s.Ball, m.Meta.Ball.Name)
				}
				props = s.BallProps()
				noise = s.Observation.NoiseM
				src = "sim:" + s.Name
				if windows, err = forecast.SimWindows(s, n, seed, wc); err != nil {
					return err
				}
			} else {
				if props, err = recordedBall(ballName); err != nil {
					return err
				}
				fs, err := sel.parse()
				if err != nil {
					return err
				}
				cut.Select = fs
				if !(stride > 0) {
					return fmt.Errorf("--stride %v: want > 0", stride)
				}
				hz := m.Meta.Horizons.WithDefaults()
				span := float64(hz.H) * hz.Dt
				if !(minCover >= atS-1e-9 && minCover <= span+1e-9) {
					return fmt.Errorf("--min-cover-s %v: want %g–%g s (the scores at %g s ahead need a truth there; the horizon ends at %g s)", minCover, atS, span, atS, span)
				}
				flights, rep, err := forecast.ReadFlights(trajectories, cut)
				if err != nil {
					return err
				}
				read = &rep
				for _, w := range rep.Warnings() {
					fmt.Fprintf(os.Stderr, "catch: warning: %s\n", w)
				}
				src = "recorded:" + trajectories
				windows = forecast.FlightWindows(flights, m.Meta.LatencyS, stride, minCover, wc)
				if len(windows) == 0 {
					return fmt.Errorf("--trajectories %s: none of the %d flights lasts %g s of history plus %g s ahead", trajectories, len(flights), m.Meta.LatencyS+0.06, minCover)
				}
			}
			if err := ort.Init(""); err != nil {
				return failed(err)
			}
			f, err := ort.NewForecaster(m, samples, sc, ort.Config{Device: device})
			if err != nil {
				return failed(err)
			}
			defer f.Close()
			ecfg := forecast.EvalConfig{Samples: samples, Seed: seed, AtS: atS}
			ms, err := forecast.Evaluate("interpolant", f, nil, windows, ecfg)
			if err != nil {
				return failed(err)
			}
			phys, err := forecast.NewPhysics(props, forecast.PhysicsConfig{Horizons: m.Meta.Horizons, ProcessNoise: sampleQ})
			if err != nil {
				return err
			}
			est, err := perception.NewEstimator(perception.EstimatorConfig{NoiseStd: noise, ProcessNoise: estQ, EstimateSpin: estSpin, SpinPriorStd: estSpinStd}, props)
			if err != nil {
				return err
			}
			ps, err := forecast.Evaluate("physics", phys, est, windows, ecfg)
			if err != nil {
				return failed(err)
			}
			gphys, err := forecast.NewPhysics(props, forecast.PhysicsConfig{Horizons: m.Meta.Horizons, ProcessNoise: sampleQ})
			if err != nil {
				return err
			}
			guard, err := forecast.NewGuarded(f.Interpolant, gphys)
			if err != nil {
				return failed(err)
			}
			gs, err := forecast.Evaluate("guarded", guard, est, windows, ecfg)
			if err != nil {
				return failed(err)
			}
			var ref *forecast.Scores
			if spinPrior > 0 {
				rp, err := forecast.NewPhysics(props, forecast.PhysicsConfig{Horizons: m.Meta.Horizons, ProcessNoise: refQ})
				if err != nil {
					return failed(err)
				}
				re, err := perception.NewEstimator(perception.EstimatorConfig{NoiseStd: noise, ProcessNoise: refEstQ, EstimateSpin: true, SpinPriorStd: spinPrior}, props)
				if err != nil {
					return failed(err)
				}
				rs, err := forecast.Evaluate("physics-spin", rp, re, windows, ecfg)
				if err != nil {
					return failed(err)
				}
				ref = &rs
			}
			all := []*forecast.Scores{&ms, &ps, &gs}
			if ref != nil {
				all = append(all, ref)
			}
			keep, common := forecast.Common(all...)
			if common == 0 {
				return failed(fmt.Errorf("no window was forecast by every forecaster (of %d)", len(windows)))
			}
			for _, s := range all {
				skipped := s.Skipped
				*s = forecast.Summarise(*s, keep)
				s.Skipped = skipped
			}
			rs := splitByRange(f.Interpolant, windows, ms, ps, keep)
			meth, k := f.Method()
			res := forecastEval{Model: model, Source: src, Windows: len(windows), Sampler: meth, Steps: k, Read: read, Common: common,
				Diffusion: m.Meta.Diffusion, Device: orCPU(device), Scores: ms, Physics: ps, ESRatio: ms.EnergyScore / ps.EnergyScore,
				Guarded: gs, GuardedRatio: gs.EnergyScore / ps.EnergyScore, Range: rs}
			if ref != nil {
				res.SpinRef, res.SpinRefRatio = ref, ref.EnergyScore/ps.EnergyScore
			}
			if diffusion != "" {
				res.Diffusion = diffusion
			}
			if meth == forecast.MethodFlow {
				res.FlowNoise = f.FlowNoise()
			}
			return printForecastEval(cmd.OutOrStdout(), &res, asJSON)
		},
	}
	fl := eval.Flags()
	fl.StringVar(&model, "model", "", "model FILE.onnx (its flow map FILE.flow.onnx is loaded too), or a residual ensemble FILE.residual.json")
	fl.StringVar(&scenario, "scenario", "", "scenario to simulate throws from")
	countFlag(fl, &n, "n", 500, 1, sim.MaxTrials, "simulated throws (one forecast each)")
	fl.Uint64Var(&seed, "seed", 1001, "seed of the throws and of the samplers (use one the model was not trained with)")
	fl.StringVar(&trajectories, "trajectories", "", "recorded flights: a CSV file or a directory of them")
	fl.StringVar(&ballName, "ball", "", "ball set (required with --trajectories; overrides the scenario's); with --trajectories also a ball YAML file (catch fit ball --out)")
	fl.Float64Var(&stride, "stride", 0.05, "seconds between forecasts along a recorded flight")
	fl.Float64Var(&minCover, "min-cover-s", 0.3, "recorded flights: forecast where the flight lasts at least this long after Now, 0.3 s (the scores at 0.3 s ahead need a truth) to the horizon's end (bounces end flights before 0.6 s); the energy score covers the part the flight covers")
	fl.Float64Var(&noise, "noise-m", 0.003, "observation noise σ the baseline's estimator assumes for recorded flights, m")
	countFlag(fl, &samples, "samples", 256, 2, launch.MaxForecastSamples, "samples per forecast")
	fl.IntVar(&steps, "steps", 0, "sampler steps (≤ 4 uses the flow map when the model has one; default: the model's)")
	fl.StringVar(&method, "method", "", "sampler: flow, em or ode (default flow when the model has a flow map)")
	fl.StringVar(&diffusion, "diffusion", "", "override the model's diffusion for em: sigma or follmer")
	fl.Float64Var(&flowNoise, "flow-noise", 0, "scale of the flow map's starting noise (below 1 narrows the samples; 0: the model's calibrated scale, 1 if it has none)")
	fl.StringVar(&device, "device", "cpu", "ONNX Runtime device: cpu or cuda")
	fl.Float64Var(&spinPrior, "spin-prior", 0, "add the physics-spin reference row: an estimator that tracks the spin with this prior σ, rad/s (0: no row)")
	fl.Float64Var(&refQ, "ref-process-noise", 0.03, "white acceleration density of the physics-spin row's samples, m/s²/√Hz (negative: none)")
	fl.Float64Var(&refEstQ, "ref-estimator-noise", perception.DefaultProcessNoise, "process noise of the physics-spin row's estimator, m/s²/√Hz (lower: a longer memory)")
	fl.BoolVar(&estSpin, "estimate-spin", false, "the baseline's estimator tracks the spin too (an EKF of position, velocity and spin)")
	fl.Float64Var(&estSpinStd, "spin-std", perception.DefaultSpinPriorStd, "with --estimate-spin: the spin's prior σ per axis, rad/s")
	fl.Float64Var(&estQ, "process-noise", perception.DefaultProcessNoise, "the baseline's estimator: white acceleration density, m/s²/√Hz")
	fl.Float64Var(&sampleQ, "sample-noise", forecast.DefaultProcessNoise, "the baseline's samples: white acceleration density along each flight, m/s²/√Hz (negative: none)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	sel.add(fl)
	parent.AddCommand(eval)
	root.AddCommand(parent)
}

// rangeSplit scores the model and the baseline separately on the windows whose condition
// lies inside and outside the model's training envelope.
type rangeSplit struct {
	In  rangePart `json:"in_range"`
	Out rangePart `json:"out_of_range"`
	// Outside counts the out-of-range windows by the first condition coordinate outside.
	Outside map[string]int `json:"outside_by_coordinate,omitempty"`
}

type rangePart struct {
	Windows int     `json:"windows"`
	ModelES float64 `json:"interpolant_energy_score_m"`
	PhysES  float64 `json:"physics_energy_score_m"`
	Ratio   float64 `json:"energy_score_ratio"`
	ModelC9 float64 `json:"interpolant_coverage90"`
	PhysC9  float64 `json:"physics_coverage90"`
}

func splitByRange(it *forecast.Interpolant, windows []forecast.Window, ms, ps forecast.Scores, common func(int) bool) rangeSplit {
	inRange := make([]bool, len(windows))
	out := rangeSplit{Outside: map[string]int{}}
	cond := make([]float64, forecast.CondDim)
	for i := range windows {
		w := &windows[i]
		if !common(i) || !it.Condition(&forecast.Input{Now: w.Now, History: w.History}, cond) {
			continue
		}
		ok, k := it.Meta().InRange(cond)
		inRange[i] = ok
		if !ok {
			out.Outside[forecast.CondNames[k]]++
		}
	}
	part := func(in bool) rangePart {
		keep := func(i int) bool { return common(i) && inRange[i] == in }
		m, p := forecast.Summarise(ms, keep), forecast.Summarise(ps, keep)
		r := rangePart{Windows: m.Windows, ModelES: m.EnergyScore, PhysES: p.EnergyScore, ModelC9: m.Cov90, PhysC9: p.Cov90}
		if p.EnergyScore > 0 {
			r.Ratio = m.EnergyScore / p.EnergyScore
		}
		return r
	}
	out.In, out.Out = part(true), part(false)
	return out
}

func orCPU(d string) string {
	if d == "" {
		return "cpu"
	}
	return d
}

func printForecastEval(w io.Writer, r *forecastEval, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	how := r.Diffusion
	if r.FlowNoise > 0 {
		how = fmt.Sprintf("noise scale %g", r.FlowNoise)
	}
	fmt.Fprintf(w, "%s on %s: %d windows (%d forecast by every row, scored), sampler %s %d steps (%s), device %s\n", r.Model, r.Source, r.Windows, r.Common, r.Sampler, r.Steps, how, r.Device)
	if r.Read != nil {
		fmt.Fprintf(w, "read %d of %d files (%d skipped), %d rows (%d repeated stamps, %d out of order dropped), %d flights (%d pieces too short dropped; cuts: %d gaps, %d bounces); mean acceleration (%.2f, %.2f, %.2f) m/s²\n",
			r.Read.FilesRead, r.Read.Files, len(r.Read.Skipped), r.Read.Rows, r.Read.Duplicates, r.Read.OutOfOrder, r.Read.Pieces, r.Read.ShortPieces, r.Read.Gaps, r.Read.Bounces, r.Read.Accel[0], r.Read.Accel[1], r.Read.Accel[2])
	}
	fmt.Fprintf(w, "%-12s %8s %24s %18s %18s %9s %9s %8s\n", "", "ES m", "CRPS@0.3s x,y,z mm", "cov50@0.3s", "cov90@0.3s", "mean err", "ms/fc", "skipped")
	rows := []forecast.Scores{r.Scores, r.Physics, r.Guarded}
	if r.SpinRef != nil {
		rows = append(rows, *r.SpinRef)
	}
	for _, s := range rows {
		fmt.Fprintf(w, "%-12s %8.4f %7.1f %7.1f %7.1f %18.3f %18.3f %7.1fmm %9.2f %8d\n", s.Name, s.EnergyScore,
			s.CRPS[0]*1000, s.CRPS[1]*1000, s.CRPS[2]*1000, s.Cov50, s.Cov90, s.MeanErr*1000, s.MSPerForecast, s.Skipped)
	}
	fmt.Fprintf(w, "energy score over %.2f s (model) / %.2f s (physics) of horizon on average\n", r.Scores.Horizon, r.Physics.Horizon)
	fmt.Fprintf(w, "energy score ratio model/physics: %.3f; guarded/physics: %.3f\n", r.ESRatio, r.GuardedRatio)
	for _, p := range []struct {
		name string
		r    rangePart
	}{{"inside", r.Range.In}, {"outside", r.Range.Out}} {
		fmt.Fprintf(w, "condition %s the model's training envelope: %d windows, energy score model %.4f / physics %.4f = %.3f, cov90 %.3f / %.3f\n",
			p.name, p.r.Windows, p.r.ModelES, p.r.PhysES, p.r.Ratio, p.r.ModelC9, p.r.PhysC9)
	}
	if len(r.Range.Outside) > 0 {
		var parts []string
		for _, k := range forecast.CondNames {
			if n := r.Range.Outside[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		fmt.Fprintf(w, "outside by first coordinate: %s\n", strings.Join(parts, ", "))
	}
	if r.SpinRef != nil {
		fmt.Fprintf(w, "energy score ratio physics-spin/physics: %.3f\n", r.SpinRefRatio)
	}
	return nil
}
