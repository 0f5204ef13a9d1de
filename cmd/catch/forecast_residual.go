package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/launch"
)

// trainResidual is `catch train forecast --residual`: the residual ensemble of the
// cross-validation (forecast.TrainResidualEnsemble) trained on every selected flight.
func trainResidual(w io.Writer, trajectories, ballName, spinPrior string, innerFolds int, spreadWorld bool, sel selectFlags, tc forecast.TrainConfig, prov provenance.Record, out string) error {
	base, err := recordedBall(ballName)
	if err != nil {
		return err
	}
	table, err := spinTableFlag(spinPrior)
	if err != nil {
		return err
	}
	flights, _, fs, err := sel.read(trajectories)
	if err != nil {
		return err
	}
	start := time.Now()
	tc.Checkpoint, tc.LossPNG = "", ""
	cfg := forecast.CVConfig{Dir: trajectories + " (files " + fs.String() + ")", Base: base, Seed: tc.Seed, SpinTable: table, NewTracker: cvTracker,
		Train: &tc, Residual: true, InnerFolds: innerFolds, SpreadWorld: spreadWorld, Progress: os.Stderr}
	e, err := forecast.TrainResidualEnsemble(cfg, flights)
	if err != nil {
		return failed(err)
	}
	e.Manifest.Build = json.RawMessage(prov.JSON())
	path, err := e.Save(out)
	if err != nil {
		return failed(err)
	}
	m := &e.Manifest
	fmt.Fprintf(w, "wrote %s and %d members %s (%d files, %d flights; C_d %.4f; estimator q %.2g; spread %s (%.2f, %.2f, %.2f); %s)\n",
		path, len(m.Members), strings.Join(m.Members, ", "), len(m.TrainFiles), m.TrainFlights, m.Ball.Cd, m.EstimatorNoise,
		frameName(m.SpreadWorld), m.Spread[0], m.Spread[1], m.Spread[2], time.Since(start).Round(time.Second))
	return nil
}

func frameName(world bool) string {
	if world {
		return "world x, y, z"
	}
	return "along, across, up"
}

// residualEvalOut is the JSON of `catch forecast eval --model FILE.residual.json`.
type residualEvalOut struct {
	Provenance provenance.Record    `json:"provenance"`
	Model      string               `json:"model"`
	Source     string               `json:"source"`
	Read       *forecast.ReadReport `json:"read"`
	Windows    int                  `json:"windows"`
	// TrainFiles are the files the ensemble was trained on (the manifest's): a file scored
	// here that is among them is not held out.
	TrainFiles []string `json:"train_files"`
	Overlap    []string `json:"overlap_with_training,omitempty"`
	Common     int      `json:"common_windows"`
	// Scores is the ensemble's, Physics the calibrated baseline's (the manifest's spread),
	// both fed by the manifest's estimator, on the common windows.
	Scores  forecast.Scores `json:"residual_ensemble"`
	Physics forecast.Scores `json:"physics"`
	ESRatio float64         `json:"energy_score_ratio"`
	Seconds float64         `json:"seconds"`
}

// evalResidual is `catch forecast eval --model FILE.residual.json --trajectories DIR`.
func evalResidual(w io.Writer, model, trajectories string, sel selectFlags, stride, minCover, atS float64, samples int, seed uint64, asJSON bool) error {
	if trajectories == "" {
		return fmt.Errorf("--model %s: a residual ensemble is evaluated on recorded flights: give --trajectories", model)
	}
	if !(stride > 0) {
		return fmt.Errorf("--stride %v: want > 0", stride)
	}
	e, err := forecast.LoadResidualEnsemble(model, cvTracker)
	if err != nil {
		return err
	}
	hz := e.Manifest.Horizons.WithDefaults()
	if span := float64(hz.H) * hz.Dt; !(minCover >= atS-1e-9 && minCover <= span+1e-9) {
		return fmt.Errorf("--min-cover-s %v: want %g–%g s", minCover, atS, span)
	}
	flights, rep, fs, err := sel.read(trajectories)
	if err != nil {
		return err
	}
	windows := forecast.FlightWindows(flights, 0, stride, minCover, forecast.WindowConfig{Horizons: hz})
	if len(windows) == 0 {
		return fmt.Errorf("--trajectories %s: none of the %d flights lasts long enough for %g s ahead", trajectories, len(flights), minCover)
	}
	start := time.Now()
	res := residualEvalOut{Provenance: record(&launch.Config{}, seed), Model: model, Source: "recorded:" + trajectories + " (files " + fs.String() + ")", Read: &rep,
		Windows: len(windows), TrainFiles: e.Manifest.TrainFiles}
	trained := map[string]bool{}
	for _, f := range e.Manifest.TrainFiles {
		trained[f] = true
	}
	seen := map[string]bool{}
	for _, f := range flights {
		name, _, _ := strings.Cut(f.Name, ":")
		if trained[name] && !seen[name] {
			res.Overlap = append(res.Overlap, name)
		}
		seen[name] = true
	}
	if len(res.Overlap) > 0 {
		fmt.Fprintf(os.Stderr, "catch: warning: %d of the scored files were trained on (%s): not a held-out score\n", len(res.Overlap), strings.Join(res.Overlap, ", "))
	}
	ecfg := forecast.EvalConfig{Samples: samples, Seed: seed, AtS: atS}
	ms, err := forecast.Evaluate("residual-ensemble", e.Forecaster, e.Tracker, windows, ecfg)
	if err != nil {
		return failed(err)
	}
	ps, err := forecast.Evaluate("physics", e.Physics, e.Tracker, windows, ecfg)
	if err != nil {
		return failed(err)
	}
	keep, common := forecast.Common(&ms, &ps)
	if common == 0 {
		return failed(fmt.Errorf("no window was forecast by both (of %d)", len(windows)))
	}
	res.Common = common
	res.Scores, res.Physics = forecast.Summarise(ms, keep), forecast.Summarise(ps, keep)
	res.Scores.Skipped, res.Physics.Skipped = ms.Skipped, ps.Skipped
	res.ESRatio = res.Scores.EnergyScore / res.Physics.EnergyScore
	res.Seconds = time.Since(start).Seconds()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(&res)
	}
	fmt.Fprintf(w, "%s on %s: %d windows, %d forecast by both; read %d of %d files\n", model, trajectories, res.Windows, common, rep.FilesRead, rep.Files)
	for _, s := range []forecast.Scores{res.Scores, res.Physics} {
		fmt.Fprintf(w, "  %-18s ES %.4f m  mean error %.1f mm  cov90 (%.2f, %.2f, %.2f)\n", s.Name, s.EnergyScore, s.MeanErr*1000, s.Cover90[0], s.Cover90[1], s.Cover90[2])
	}
	fmt.Fprintf(w, "energy score ratio %.3f (residual ensemble / calibrated physics, same estimator)\n", res.ESRatio)
	return nil
}
