package forecast

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// CVConfig configures CrossValidate: k-fold cross-validation of the physics baseline (and,
// with Train, of an interpolant trained on recorded flights) over the files of a directory
// of recordings, split by file. Everything a fold's forecasters are fitted, calibrated or
// trained on comes from the other folds' files; the fold's own files are only scored.
type CVConfig struct {
	// Dir holds the recordings (ReadFlights).
	Dir string
	// Base is the ball set whose C_d and g are fitted per fold (ball.Fit).
	Base ball.Props
	// Folds is the number of folds (file j of the sorted listing is in fold j%Folds);
	// default 5.
	Folds int
	// Horizons of the forecasts; default 20 ms × 30.
	Horizons Horizons
	// Stride between scored windows along a flight, s; default 0.05. AtS is the horizon of
	// the coverage and mean-error scores, s; default 0.3 (windows need a truth there).
	Stride, AtS float64
	// Samples per forecast; default 256.
	Samples int
	Seed    uint64
	// NewTracker returns the estimator of the physics baseline for a ball, a process noise
	// (m/s²/√Hz) and a spin prior: a learned one (prior, when not nil) or zero mean with σ
	// spinStd (rad/s); *perception.Estimator with EstimateSpin.
	NewTracker func(props ball.Props, processNoise, spinStd float64, prior ball.SpinPrior) (Tracker, error)
	// SpinTable, when set, gives the estimator a spin prior learned from the training
	// folds' fitted flights (ball.SpinTable): the spins of the flights that started where
	// and as fast as this one. On the training windows each file's table leaves that file
	// out, as the fold's table leaves out the fold's files.
	SpinTable *ball.SpinTableConfig
	// EstimatorNoise is the grid of the estimator's process noise and SpinScale that of the
	// spin prior σ as a multiple of the fitted spins' σ (with SpinTable: of the table's σ);
	// the pair with the least mean error at AtS on the training windows is kept. Defaults
	// {0.1, 0.3, 1} and {1, 2}.
	EstimatorNoise, SpinScale []float64
	// SpreadWorld calibrates the spread per world axis instead of per heading axis.
	SpreadWorld bool
	// Train, when set, trains an interpolant per fold on the training folds' flights
	// (CompleteWindows: pre-bounce windows, the horizon past the bounce filled with the
	// fitted flight), windows every TrainStride s (default 0.01) with at least
	// TrainMinCover s of recording ahead (default 0.1).
	Train *TrainConfig
	// Residual trains the interpolant on the residuals of the baseline's mean forecast
	// (Residual, ResidualDataset): conditioned on the fold's estimator, it learns only what
	// the physics gets wrong.
	Residual                   bool
	TrainStride, TrainMinCover float64
	// InnerFolds splits the training files once more, by file (file j of the sorted
	// training files is in inner fold j%InnerFolds; default 4): one model is trained per
	// inner fold on the other inner folds' files (seed Train.Seed + j), and forecasts that
	// inner fold's windows (every TrainStride s), which no model that forecasts them saw.
	// The spread (Spread) is calibrated on those out-of-fold forecasts; the fold's forecaster
	// is the mixture of the inner models (Ensemble), each scaled by it.
	InnerFolds int
	// Progress receives one line per step (nil: none).
	Progress io.Writer
}

func (c *CVConfig) withDefaults() {
	if c.Folds == 0 {
		c.Folds = 5
	}
	c.Horizons = c.Horizons.WithDefaults()
	if c.Stride == 0 {
		c.Stride = 0.05
	}
	if c.AtS == 0 {
		c.AtS = 0.3
	}
	if c.Samples == 0 {
		c.Samples = 256
	}
	if len(c.EstimatorNoise) == 0 {
		c.EstimatorNoise = []float64{0.1, 0.3, 1}
	}
	if len(c.SpinScale) == 0 {
		c.SpinScale = []float64{1, 2}
	}
	if c.TrainStride == 0 {
		c.TrainStride = 0.01
	}
	if c.TrainMinCover == 0 {
		c.TrainMinCover = 0.1
	}
	if c.InnerFolds == 0 {
		c.InnerFolds = 4
	}
}

// CVFold is one fold's outcome. Everything under Calibration was chosen on the training
// files; the scores are on the fold's own files.
type CVFold struct {
	Fold       int      `json:"fold"`
	TrainFiles []string `json:"train_files"`
	TestFiles  []string `json:"test_files"`
	// TrainFlights, TestFlights: flight pieces; TestWindows: the windows scored.
	TrainFlights int `json:"train_flights"`
	TestFlights  int `json:"test_flights"`
	TestWindows  int `json:"test_windows"`
	// Calibration (training files only).
	Ball           ball.Props `json:"ball"`
	CdStd          float64    `json:"cd_std"`
	SpinStd        [3]float64 `json:"fitted_spin_heading_std_radps"`
	EstimatorNoise float64    `json:"estimator_process_noise_mps2_rthz"`
	SpinPrior      float64    `json:"estimator_spin_prior_std_radps"`
	// SpinTable: the estimator's spin prior came from a table of this many fitted training
	// flights, its σ scaled by SpinTableScale.
	SpinTable      int     `json:"spin_table_flights,omitempty"`
	SpinTableScale float64 `json:"spin_table_scale,omitempty"`
	// Spread is the samples' spread (PhysicsConfig.Spread) per heading axis, or per world
	// axis with SpreadWorld, calibrated to 90% coverage on the training windows.
	Spread [3]float64 `json:"spread"`
	// Held-out scores on the fold's files.
	Physics     Scores  `json:"physics"`
	Interpolant *Scores `json:"interpolant,omitempty"`
	// ESRatio is the interpolant's energy score over the physics baseline's on the windows
	// both forecast.
	ESRatio float64 `json:"energy_score_ratio,omitempty"`
	// TrainExamples: the interpolant's training examples (windows completed past a bounce
	// among them).
	TrainExamples  int `json:"train_examples,omitempty"`
	TrainCompleted int `json:"train_windows_completed,omitempty"`
	// Inner are the inner models (CVConfig.InnerFolds): the training files each was trained
	// on and those whose windows it forecast for the calibration.
	Inner []CVInner `json:"inner,omitempty"`
	// ModelSpread is the interpolant's spread, calibrated to 90% coverage on CalibWindows
	// out-of-fold forecasts of the inner models on the training files' windows (every
	// TrainStride); RawCover90 and RawESRatio the uncalibrated model's coverage and energy
	// score over the baseline's on the fold's files.
	ModelSpread  [3]float64 `json:"interpolant_spread,omitempty"`
	CalibWindows int        `json:"interpolant_calibration_windows,omitempty"`
	RawCover90   [3]float64 `json:"interpolant_uncalibrated_coverage90,omitempty"`
	RawESRatio   float64    `json:"interpolant_uncalibrated_energy_score_ratio,omitempty"`
}

// CVInner is one inner model of a fold: trained on TrainFiles, it forecast the
// calibration windows of CalibFiles (both among the fold's training files, disjoint).
type CVInner struct {
	TrainFiles []string `json:"train_files"`
	CalibFiles []string `json:"calib_files"`
	Examples   int      `json:"examples"`
	Completed  int      `json:"windows_completed"`
	Windows    int      `json:"calibration_windows"`
}

// CVMean is the mean over the folds of the held-out scores.
type CVMean struct {
	PhysicsMeanErr  float64    `json:"physics_mean_error_m"`
	PhysicsCover90  [3]float64 `json:"physics_coverage90"`
	PhysicsES       float64    `json:"physics_energy_score_m"`
	ModelMeanErr    float64    `json:"interpolant_mean_error_m,omitempty"`
	ModelCover90    [3]float64 `json:"interpolant_coverage90,omitempty"`
	ModelES         float64    `json:"interpolant_energy_score_m,omitempty"`
	ESRatio         float64    `json:"energy_score_ratio,omitempty"`
	PooledESRatio   float64    `json:"pooled_energy_score_ratio,omitempty"`
	PhysicsWindows  int        `json:"windows"`
	PhysicsCov90Avg float64    `json:"physics_coverage90_mean"`
	ModelCov90Avg   float64    `json:"interpolant_coverage90_mean,omitempty"`
}

// CVResult is the cross-validation table.
type CVResult struct {
	Folds []CVFold `json:"folds"`
	Mean  CVMean   `json:"mean"`
}

// CrossValidate runs the cross-validation (see CVConfig).
func CrossValidate(cfg CVConfig) (*CVResult, error) {
	cfg.withDefaults()
	if cfg.NewTracker == nil {
		return nil, fmt.Errorf("forecast: cross-validate: no tracker")
	}
	if cfg.Folds < 2 {
		return nil, fmt.Errorf("forecast: cross-validate: %d folds, want ≥ 2", cfg.Folds)
	}
	logf := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	res := &CVResult{}
	var pooledM, pooledP float64
	for k := 0; k < cfg.Folds; k++ {
		train, _, err := ReadFlights(cfg.Dir, CutConfig{Select: FileSelect{Split: "all", Folds: cfg.Folds, Fold: k, Exclude: true}})
		if err != nil {
			return nil, fmt.Errorf("fold %d, training files: %w", k, err)
		}
		test, _, err := ReadFlights(cfg.Dir, CutConfig{Select: FileSelect{Split: "all", Folds: cfg.Folds, Fold: k}})
		if err != nil {
			return nil, fmt.Errorf("fold %d, test files: %w", k, err)
		}
		fd := CVFold{Fold: k, TrainFiles: fileNames(train), TestFiles: fileNames(test), TrainFlights: len(train), TestFlights: len(test)}
		b, err := fitBaseline(cfg, train, &fd, k, logf)
		if err != nil {
			return nil, err
		}
		props, trainTracker, tracker := b.props, b.trainTracker, b.tracker
		testW := FlightWindows(test, 0, cfg.Stride, cfg.AtS, WindowConfig{Horizons: cfg.Horizons})
		if len(testW) == 0 {
			return nil, fmt.Errorf("fold %d: %d test windows: the flights are too short for %g s ahead", k, len(testW), cfg.AtS)
		}
		pc := PhysicsConfig{Horizons: cfg.Horizons, SpreadWorld: cfg.SpreadWorld, Spread: fd.Spread}
		phys, err := NewPhysics(props, pc)
		if err != nil {
			return nil, err
		}
		ecfg := EvalConfig{Samples: cfg.Samples, Seed: cfg.Seed, AtS: cfg.AtS}
		ps, err := Evaluate("physics", phys, tracker, testW, ecfg)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", k, err)
		}
		fd.Physics = ps
		fd.TestWindows = ps.Windows
		if cfg.Train != nil {
			var calTracker, testTracker Tracker
			if cfg.Residual {
				calTracker, testTracker = trainTracker, tracker
			}
			members, err := trainInner(props, train, &fd, cfg, k, calTracker, logf)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k, err)
			}
			model := &Ensemble{Members: members}
			raw, err := Evaluate("interpolant-uncalibrated", model, testTracker, testW, ecfg)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k, err)
			}
			fd.RawCover90 = raw.Cover90
			if keep, n := Common(&raw, &ps); n > 0 {
				fd.RawESRatio = Summarise(raw, keep).EnergyScore / Summarise(ps, keep).EnergyScore
			}
			scaled := spreadEnsemble(members, fd.ModelSpread, cfg.SpreadWorld)
			ms, err := Evaluate("interpolant", scaled, testTracker, testW, ecfg)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k, err)
			}
			keep, _ := Common(&ms, &ps)
			ms2, ps2 := Summarise(ms, keep), Summarise(ps, keep)
			fd.Interpolant = &ms2
			fd.ESRatio = ms2.EnergyScore / ps2.EnergyScore
			pooledM += ms2.EnergyScore * float64(ms2.Windows)
			pooledP += ps2.EnergyScore * float64(ps2.Windows)
			logf("fold %d: interpolant ES %.4f vs physics %.4f (%.3f×), cov90 %.2f", k, ms2.EnergyScore, ps2.EnergyScore, fd.ESRatio, ms2.Cov90)
		}
		logf("fold %d: physics on %d held-out windows: mean error %.1f mm, cov90 (%.2f, %.2f, %.2f), ES %.4f", k, ps.Windows, ps.MeanErr*1000, ps.Cover90[0], ps.Cover90[1], ps.Cover90[2], ps.EnergyScore)
		res.Folds = append(res.Folds, fd)
	}
	n := float64(len(res.Folds))
	m := &res.Mean
	for _, f := range res.Folds {
		m.PhysicsMeanErr += f.Physics.MeanErr / n
		m.PhysicsES += f.Physics.EnergyScore / n
		m.PhysicsCov90Avg += f.Physics.Cov90 / n
		m.PhysicsWindows += f.Physics.Windows
		for j := 0; j < 3; j++ {
			m.PhysicsCover90[j] += f.Physics.Cover90[j] / n
		}
		if f.Interpolant != nil {
			m.ModelMeanErr += f.Interpolant.MeanErr / n
			m.ModelES += f.Interpolant.EnergyScore / n
			m.ModelCov90Avg += f.Interpolant.Cov90 / n
			m.ESRatio += f.ESRatio / n
			for j := 0; j < 3; j++ {
				m.ModelCover90[j] += f.Interpolant.Cover90[j] / n
			}
		}
	}
	if pooledP > 0 {
		m.PooledESRatio = pooledM / pooledP
	}
	return res, nil
}

// baseline is the physics baseline fitted on a set of training flights (fitBaseline).
type baseline struct {
	props ball.Props
	// fits are the training flights' fits (the spin table's entries); table is nil without
	// CVConfig.SpinTable.
	fits  []ball.TrackFit
	table *ball.SpinTable
	// trainTracker is the estimator on the training windows (its spin table leaves each
	// training file's own flights out), tracker the one for any other flight.
	trainTracker, tracker Tracker
}

// fitBaseline fits the physics baseline on training flights as CrossValidate does for a
// fold: the ball's C_d and g (ball.Fit), the estimator's spin prior, its process noise and
// prior scale (the grid point with the least mean error at AtS on the training windows),
// and the samples' spread per axis (90% coverage of the training truths). The choices go
// to fd (Ball, CdStd, SpinStd, EstimatorNoise, SpinPrior, SpinTable, SpinTableScale,
// Spread); fold names it in errors and progress.
func fitBaseline(cfg CVConfig, train []Flight, fd *CVFold, fold int, logf func(string, ...any)) (*baseline, error) {
	name := foldName(fold)
	tracks := make([]ball.Track, len(train))
	for i, f := range train {
		tracks[i] = ball.Track{Name: f.Name, T: f.T, P: f.P}
	}
	fit, err := ball.Fit(cfg.Base, tracks, ball.FitConfig{})
	if err != nil {
		return nil, fmt.Errorf("%s: ball fit: %w", name, err)
	}
	props := fit.Props
	fd.Ball, fd.CdStd = props, fit.CdStd
	fd.SpinStd = spinStd(fit.Tracks)
	logf("%s: %d training flights, C_d %.4f g %.3f, spin σ (%.0f, %.0f, %.0f) rad/s", name, len(train), props.Cd, props.Gravity, fd.SpinStd[0], fd.SpinStd[1], fd.SpinStd[2])
	wc := WindowConfig{Horizons: cfg.Horizons}
	trainW := FlightWindows(train, 0, cfg.Stride, cfg.AtS, wc)
	if len(trainW) == 0 {
		return nil, fmt.Errorf("%s: no training windows: the flights are too short for %g s ahead", name, cfg.AtS)
	}
	// The estimator: least mean error at AtS on the training windows.
	sp := (fd.SpinStd[1] + fd.SpinStd[2]) / 2 // the components across the velocity act
	var table *ball.SpinTable
	if cfg.SpinTable != nil {
		if table, err = ball.NewSpinTable(fit.Tracks, *cfg.SpinTable); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		fd.SpinTable = table.Len()
	}
	best := math.Inf(1)
	var trainTracker Tracker
	for _, q := range cfg.EstimatorNoise {
		for _, s := range cfg.SpinScale {
			tr, err := newCVTracker(cfg.NewTracker, props, q, s*sp, table, s, fd.TrainFiles)
			if err != nil {
				return nil, err
			}
			e := meanPointError(&props, tr, trainW, cfg.Horizons, cfg.AtS)
			if e < best {
				best, fd.EstimatorNoise, fd.SpinPrior, trainTracker = e, q, s*sp, tr
				if table != nil {
					fd.SpinPrior, fd.SpinTableScale = 0, s
				}
			}
		}
	}
	tracker, err := newCVTracker(cfg.NewTracker, props, fd.EstimatorNoise, fd.SpinPrior, table, fd.SpinTableScale, nil)
	if err != nil {
		return nil, err
	}
	if trainTracker == nil { // no grid point forecast a training window
		trainTracker = tracker
	}
	// The samples' spread per heading axis: 90% coverage on the training windows.
	raw, err := NewPhysics(props, PhysicsConfig{Horizons: cfg.Horizons, SpreadWorld: cfg.SpreadWorld})
	if err != nil {
		return nil, err
	}
	fd.Spread, err = CalibrateSpread(raw, trainTracker, trainW, cfg.AtS, cfg.Samples, cfg.Seed, cfg.SpreadWorld)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	prior := fmt.Sprintf("spin prior σ %.0f rad/s", fd.SpinPrior)
	if table != nil {
		prior = fmt.Sprintf("spin prior: table of %d flights, σ × %g", fd.SpinTable, fd.SpinTableScale)
	}
	logf("%s: estimator q %.2g, %s; spread (%.2f, %.2f, %.2f)", name, fd.EstimatorNoise, prior, fd.Spread[0], fd.Spread[1], fd.Spread[2])
	return &baseline{props: props, fits: fit.Tracks, table: table, trainTracker: trainTracker, tracker: tracker}, nil
}

// foldName names fold k in errors and progress (k < 0: the training flights of a
// residual ensemble).
func foldName(k int) string {
	if k < 0 {
		return "training flights"
	}
	return fmt.Sprintf("fold %d", k)
}

// innerSplit splits flights by file for inner fold j of n: the flights of files i%n == j
// of files (sorted) go to the second part. With fewer files than folds, fold j ≥ len(files)
// is empty.
func innerSplit(fl []Flight, files []string, n, j int) (rest, held []Flight, restFiles, heldFiles []string) {
	pick := map[string]bool{}
	for i, f := range files {
		if i%n == j {
			pick[f] = true
			heldFiles = append(heldFiles, f)
		} else {
			restFiles = append(restFiles, f)
		}
	}
	for _, f := range fl {
		name, _, _ := strings.Cut(f.Name, ":")
		if pick[name] {
			held = append(held, f)
		} else {
			rest = append(rest, f)
		}
	}
	return rest, held, restFiles, heldFiles
}

// trainInner trains the inner models of a fold (CVConfig.InnerFolds) on its training
// flights, records them in fd.Inner, and calibrates fd.ModelSpread on their out-of-fold
// forecasts: each inner model forecasts the windows of the training files it was not trained
// on. With a tracker (Residual) the models learn the residual of its estimates. It returns
// the inner models' forecasters, unscaled.
func trainInner(props ball.Props, train []Flight, fd *CVFold, cfg CVConfig, k int, tracker Tracker, logf func(string, ...any)) ([]Forecaster, error) {
	wc := WindowConfig{Horizons: cfg.Horizons}
	var members []Forecaster
	var ratios [3][]float64
	for j := 0; j < cfg.InnerFolds; j++ {
		fit, held, fitFiles, heldFiles := innerSplit(train, fd.TrainFiles, cfg.InnerFolds, j)
		if len(held) == 0 || len(fit) == 0 {
			continue
		}
		c := cfg
		tc := *cfg.Train
		tc.Seed += uint64(j)
		c.Train = &tc
		m, ds, completed, err := trainOnFlights(props, fit, c, k, tracker)
		if err != nil {
			return nil, fmt.Errorf("inner model %d: %w", j, err)
		}
		it, err := NewInterpolant(m, nil, nil, SamplerConfig{})
		if err != nil {
			return nil, err
		}
		var f Forecaster = it
		if tracker != nil {
			if f, err = NewResidual(it); err != nil {
				return nil, err
			}
		}
		// Every TrainStride along the held flights: the spread is a 90% quantile per axis.
		calW := FlightWindows(held, 0, cfg.TrainStride, cfg.AtS, wc)
		r, err := spreadRatios(f, tracker, calW, cfg.AtS, cfg.Samples, cfg.Seed+uint64(j), cfg.SpreadWorld)
		if err != nil {
			return nil, fmt.Errorf("inner model %d: %w", j, err)
		}
		for a := range ratios {
			ratios[a] = append(ratios[a], r[a]...)
		}
		fd.Inner = append(fd.Inner, CVInner{TrainFiles: fitFiles, CalibFiles: heldFiles, Examples: ds, Completed: completed, Windows: len(r[0])})
		fd.TrainExamples += ds
		fd.TrainCompleted += completed
		fd.CalibWindows += len(r[0])
		members = append(members, f)
		logf("%s: inner model %d trained on %d files (%d examples), forecast %d windows of %d others", foldName(k), j, len(fitFiles), ds, len(r[0]), len(heldFiles))
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("%d training files: too few for %d inner folds", len(fd.TrainFiles), cfg.InnerFolds)
	}
	if len(ratios[0]) == 0 {
		return nil, errors.New("interpolant: calibrate spread: no out-of-fold window could be forecast")
	}
	fd.ModelSpread = spreadFactors(ratios)
	return members, nil
}

// fileNames lists the files the flights came from (the part of Flight.Name before ':').
func fileNames(fl []Flight) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fl {
		name, _, _ := strings.Cut(f.Name, ":")
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// spinStd is the σ of the fitted spins in the heading frame, each component trimmed to its
// central 90% (a few flights with no curvature to speak of get spins the prior alone sets).
func spinStd(tf []ball.TrackFit) (std [3]float64) {
	for k := 0; k < 3; k++ {
		var v []float64
		for _, t := range tf {
			v = append(v, t.Heading[k])
		}
		sort.Float64s(v)
		v = v[len(v)/20 : len(v)-len(v)/20]
		if len(v) == 0 {
			continue
		}
		var mean float64
		for _, x := range v {
			mean += x / float64(len(v))
		}
		for _, x := range v {
			std[k] += (x - mean) * (x - mean) / float64(len(v))
		}
		std[k] = math.Sqrt(std[k])
	}
	return std
}

// flightTracker is a Tracker that is told which flight a window comes from before its
// history (meanPointError, CalibrateSpread).
type flightTracker interface {
	Tracker
	ForFlight(name string)
}

// estimateWindow runs tr over w's history (telling it w's flight first when
// it is a flightTracker) and writes its estimate at w.Now to est.
func estimateWindow(tr Tracker, w Window, est *ball.Estimate) {
	if ft, ok := tr.(flightTracker); ok {
		ft.ForFlight(w.Flight)
	}
	tr.Reset()
	for _, o := range w.History {
		tr.Observe(o.T, o.P)
	}
	tr.Estimate(w.Now, est)
}

// looTracker is the baseline's tracker on the training windows when its spin prior is a
// table of the training flights: each file's tracker uses the table without that file.
type looTracker struct {
	byFile   map[string]Tracker
	all, cur Tracker // all: the whole table, for a flight of another file
}

func (l *looTracker) ForFlight(name string) {
	file, _, _ := strings.Cut(name, ":")
	var ok bool
	if l.cur, ok = l.byFile[file]; !ok {
		l.cur = l.all
	}
}
func (l *looTracker) Reset()                               { l.cur.Reset() }
func (l *looTracker) Observe(t float64, p [3]float64) bool { return l.cur.Observe(t, p) }
func (l *looTracker) Estimate(now float64, dst *ball.Estimate) {
	l.cur.Estimate(now, dst)
}

// scaledPrior scales a spin prior's σ.
type scaledPrior struct {
	p ball.SpinPrior
	s float64
}

func (s scaledPrior) Spin(p, v ball.Vec, mean *ball.Vec, cov *[9]float64) {
	s.p.Spin(p, v, mean, cov)
	for i := range cov {
		cov[i] *= s.s * s.s
	}
}

// newCVTracker is the baseline's tracker: with a table, its prior σ scaled by scale, and
// when looFiles are given, one that leaves each of those files out of the table for its
// own windows.
func newCVTracker(mk func(ball.Props, float64, float64, ball.SpinPrior) (Tracker, error), props ball.Props, q, spinStd float64, table *ball.SpinTable, scale float64, looFiles []string) (Tracker, error) {
	if table == nil {
		return mk(props, q, spinStd, nil)
	}
	if len(looFiles) == 0 {
		return mk(props, q, spinStd, scaledPrior{table, scale})
	}
	all, err := mk(props, q, spinStd, scaledPrior{table, scale})
	if err != nil {
		return nil, err
	}
	l := &looTracker{byFile: map[string]Tracker{}, all: all, cur: all}
	for _, f := range looFiles {
		tr, err := mk(props, q, spinStd, scaledPrior{table.Without(f), scale})
		if err != nil {
			return nil, err
		}
		l.byFile[f] = tr
	}
	return l, nil
}

// meanPointError is the mean distance at atS between the tracker's estimate flown on
// without noise and the truth.
func meanPointError(props *ball.Props, tr Tracker, ws []Window, hz Horizons, atS float64) float64 {
	var sum float64
	var n int
	var est ball.Estimate
	hAt := int(math.Round(atS/hz.Dt)) - 1
	for _, w := range ws {
		estimateWindow(tr, w, &est)
		if !est.Valid {
			continue
		}
		s := est.State
		stepTo(props, &s, est.T, w.Now+float64(hAt+1)*hz.Dt)
		var d2 float64
		for k := 0; k < 3; k++ {
			d := s.P[k] - w.Truth[hAt*3+k]
			d2 += d * d
		}
		sum += math.Sqrt(d2)
		n++
	}
	if n == 0 {
		return math.Inf(1)
	}
	return sum / float64(n)
}

// Spread wraps a forecaster and scales its samples' deviations from their mean at every
// horizon by a factor per axis: of the world (World) or of the forecast's heading frame
// (along the mean forecast's horizontal velocity, across it, up). It calibrates the
// spread of a forecaster whose intervals are too wide or too narrow (CalibrateSpread).
type Spread struct {
	F      Forecaster
	Factor [3]float64
	World  bool
}

// Horizons implements Forecaster.
func (s *Spread) Horizons() (float64, int) { return s.F.Horizons() }

// Forecast implements Forecaster.
func (s *Spread) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	if err := s.F.Forecast(in, rng, dst); err != nil {
		return err
	}
	_, h := s.F.Horizons()
	scaleSpread(dst, h, spreadFrame(dst, h, s.World), s.Factor)
	return nil
}

// spreadFrame is the world frame, or the heading frame of the mean forecast's first two
// horizons.
func spreadFrame(dst *control.Forecast, h int, world bool) Frame {
	if world || h < 2 {
		return Frame{C: 1}
	}
	var v ball.Vec
	for n := 0; n < dst.N; n++ {
		x := dst.Pos[n*h*3:]
		for k := 0; k < 3; k++ {
			v[k] += x[3+k] - x[k]
		}
	}
	return NewFrame(v)
}

// CalibrateSpread picks the spread factors (Spread, PhysicsConfig.Spread) per axis, of the
// world or of the heading frame, that make f's central 90% intervals at atS cover 90% of
// the windows' truths. tracker (nil when f needs no estimate) is fed each window's history.
// A window's truth lies inside the interval scaled by c when c is at least the ratio of the
// truth's distance from the sample mean to the interval's half on its side; the factor is
// the 90% quantile of that ratio over the windows, so one run of the sampler calibrates it
// exactly on these windows. Factors are clamped to [0.05, 100].
func CalibrateSpread(f Forecaster, tracker Tracker, ws []Window, atS float64, samples int, seed uint64, world bool) ([3]float64, error) {
	ratio, err := spreadRatios(f, tracker, ws, atS, samples, seed, world)
	if err != nil {
		return [3]float64{}, err
	}
	if len(ratio[0]) == 0 {
		return [3]float64{}, fmt.Errorf("forecast: calibrate spread: no window could be forecast")
	}
	return spreadFactors(ratio), nil
}

// spreadFactors are the 90% quantiles of the ratios per axis, clamped to [0.05, 100].
func spreadFactors(ratio [3][]float64) (out [3]float64) {
	for k := 0; k < 3; k++ {
		r := append([]float64(nil), ratio[k]...)
		sort.Float64s(r)
		out[k] = math.Min(math.Max(Quantile(r, 0.9), 0.05), 100)
	}
	return out
}

// spreadRatios are CalibrateSpread's ratios per axis: for each window f forecasts, the
// truth's distance from the sample mean at atS over the central 90% interval's half on its
// side.
func spreadRatios(f Forecaster, tracker Tracker, ws []Window, atS float64, samples int, seed uint64, world bool) ([3][]float64, error) {
	var ratio [3][]float64
	dt, h := f.Horizons()
	hAt := int(math.Round(atS/dt)) - 1
	if hAt < 0 || hAt >= h {
		return ratio, fmt.Errorf("forecast: calibrate spread: at %g s, outside the horizons (%d × %g s)", atS, h, dt)
	}
	rng := rand.New(rand.NewPCG(seed, 0xca1))
	buf := NewBuffer(dt, h, samples)
	col := make([]float64, samples)
	var est ball.Estimate
	for _, w := range ws {
		in := Input{Now: w.Now, History: w.History}
		if tracker != nil {
			estimateWindow(tracker, w, &est)
			in.Estimate = &est
		}
		if err := f.Forecast(&in, rng, &buf); err != nil {
			if errors.Is(err, ErrNoCondition) {
				continue
			}
			return ratio, err
		}
		fr := spreadFrame(&buf, h, world)
		y := fr.ToLocal(ball.Vec{w.Truth[hAt*3], w.Truth[hAt*3+1], w.Truth[hAt*3+2]})
		for k := 0; k < 3; k++ {
			var m float64
			for j := 0; j < samples; j++ {
				p := buf.Pos[j*h*3+hAt*3:]
				col[j] = fr.ToLocal(ball.Vec{p[0], p[1], p[2]})[k]
				m += col[j]
			}
			m /= float64(samples)
			sort.Float64s(col)
			half := Quantile(col, 0.95) - m
			if y[k] < m {
				half = m - Quantile(col, 0.05)
			}
			r := 100.0
			if half > 0 {
				r = math.Abs(y[k]-m) / half
			}
			ratio[k] = append(ratio[k], r)
		}
	}
	return ratio, nil
}

// trainOnFlights trains an interpolant on the training flights of fold k (k < 0: of a
// residual ensemble, TrainResidualEnsemble); with a tracker,
// on the residuals of its estimates flown on (ResidualDataset).
func trainOnFlights(props ball.Props, train []Flight, cfg CVConfig, k int, tracker Tracker) (*Model, int, int, error) {
	wc := WindowConfig{Horizons: cfg.Horizons}
	ws := FlightWindows(train, 0, cfg.TrainStride, cfg.TrainMinCover, wc)
	ws, completed, _ := CompleteWindows(props, train, ws, cfg.Horizons.Dt)
	var ds *Dataset
	if tracker != nil {
		ds, _ = ResidualDataset(&props, tracker, ws, wc)
	} else {
		ds, _ = BuildDataset(&props, ws, wc)
	}
	if ds.Len() < 50 {
		return nil, 0, 0, fmt.Errorf("only %d training examples from %d flights", ds.Len(), len(train))
	}
	tc := *cfg.Train
	tc.Checkpoint, tc.LossPNG, tc.Progress = "", "", nil
	if tc.Log == nil {
		tc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	src := fmt.Sprintf("recorded:%s (all but fold %d of %d)", cfg.Dir, k, cfg.Folds)
	if k < 0 {
		src = fmt.Sprintf("recorded:%s (%d training flights)", cfg.Dir, len(train))
	}
	meta := Meta{Ball: props, Seed: tc.Seed, Episodes: len(train), Source: src}
	m, _, err := Train(ds, meta, tc)
	if err != nil {
		return nil, 0, 0, err
	}
	return m, ds.Len(), completed, nil
}
