package forecast

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agilecatch/catch/ball"
)

// ResidualManifest describes a residual ensemble on disk (TrainResidualEnsemble,
// ResidualEnsemble.Save, LoadResidualEnsemble): its member models, their spread, and the
// physics baseline and estimator fitted on the same flights, whose estimates are the
// members' condition. It is FILE.residual.json next to the members FILE.j.onnx.
type ResidualManifest struct {
	// Members are the inner models' files (Model.Save), relative to the manifest's folder.
	Members []string `json:"members"`
	// Spread is the members' spread factor per axis (Spread), of the world with
	// SpreadWorld, else of the heading frame.
	Spread      [3]float64 `json:"spread"`
	SpreadWorld bool       `json:"spread_world"`
	// Ball is the ball set with C_d and g fitted on the training flights; BaseBall the set
	// it started from.
	Ball     ball.Props `json:"ball"`
	BaseBall string     `json:"base_ball"`
	// The estimator (CVConfig.NewTracker): process noise and, without a spin table, the
	// spin prior σ; with one (SpinTable), the table of the training flights' fits
	// (SpinFits) with its σ scaled by SpinTableScale.
	EstimatorNoise float64               `json:"estimator_process_noise_mps2_rthz"`
	SpinPrior      float64               `json:"estimator_spin_prior_std_radps"`
	SpinTable      *ball.SpinTableConfig `json:"spin_table,omitempty"`
	SpinTableScale float64               `json:"spin_table_scale,omitempty"`
	SpinFits       []ball.TrackFit       `json:"spin_table_fits,omitempty"`
	// PhysicsSpread is the calibrated physics baseline's spread (PhysicsConfig.Spread),
	// the reference the ensemble is scored against.
	PhysicsSpread [3]float64 `json:"physics_spread"`
	Horizons      Horizons   `json:"horizons"`
	// AtS is the horizon of the spread calibration, s; Samples its samples per forecast;
	// Stride and TrainStride the strides of the baseline's and the members' calibration
	// windows, s.
	AtS         float64 `json:"at_s"`
	Samples     int     `json:"samples"`
	Stride      float64 `json:"stride_s"`
	TrainStride float64 `json:"train_stride_s"`
	Seed        uint64  `json:"seed"`
	InnerFolds  int     `json:"inner_folds"`
	// Trajectories, TrainFiles: where the training flights came from; Inner what each
	// member was trained and calibrated on.
	Trajectories string    `json:"trajectories"`
	TrainFiles   []string  `json:"train_files"`
	TrainFlights int       `json:"train_flights"`
	Inner        []CVInner `json:"inner"`
	// Build is the provenance of the run that trained it (set by the caller).
	Build json.RawMessage `json:"build,omitempty"`
}

// ResidualEnsemble is CrossValidate's residual forecaster (CVConfig.Residual) trained on a
// set of flights: the equal mixture of the inner models, each a Residual scaled by the
// calibrated spread, with the estimator whose estimates it is conditioned on and the
// calibrated physics baseline fed by the same estimator.
type ResidualEnsemble struct {
	Manifest ResidualManifest
	// Forecaster is the Ensemble of Spread-wrapped Residuals; Tracker the estimator to feed
	// it (and Physics) with; Physics the calibrated baseline.
	Forecaster Forecaster
	Tracker    Tracker
	Physics    *Physics
	models     []*Model
}

// ResidualPath is the manifest path of a residual ensemble written for FILE.onnx:
// FILE.residual.json.
func ResidualPath(onnx string) string {
	return strings.TrimSuffix(onnx, ".onnx") + ".residual.json"
}

// TrainResidualEnsemble fits the physics baseline and its estimator on the training
// flights and trains cfg.InnerFolds residual models on them, exactly as CrossValidate does
// for one fold with cfg.Residual (fitBaseline, trainInner): every flight is training data,
// none is held out. cfg.Train and cfg.NewTracker are required; cfg.Dir is recorded as the
// source.
func TrainResidualEnsemble(cfg CVConfig, train []Flight) (*ResidualEnsemble, error) {
	cfg.withDefaults()
	if cfg.NewTracker == nil || cfg.Train == nil {
		return nil, errors.New("forecast: residual ensemble: needs a tracker and training settings")
	}
	cfg.Residual = true
	logf := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	fd := CVFold{Fold: -1, TrainFiles: fileNames(train), TrainFlights: len(train)}
	b, err := fitBaseline(cfg, train, &fd, -1, logf)
	if err != nil {
		return nil, err
	}
	members, err := trainInner(b.props, train, &fd, cfg, -1, b.trainTracker, logf)
	if err != nil {
		return nil, err
	}
	man := ResidualManifest{Spread: fd.ModelSpread, SpreadWorld: cfg.SpreadWorld, Ball: b.props, BaseBall: cfg.Base.Name,
		EstimatorNoise: fd.EstimatorNoise, SpinPrior: fd.SpinPrior, SpinTable: cfg.SpinTable, SpinTableScale: fd.SpinTableScale,
		PhysicsSpread: fd.Spread, Horizons: cfg.Horizons, AtS: cfg.AtS, Samples: cfg.Samples, Stride: cfg.Stride, TrainStride: cfg.TrainStride,
		Seed: cfg.Train.Seed, InnerFolds: cfg.InnerFolds, Trajectories: cfg.Dir, TrainFiles: fd.TrainFiles, TrainFlights: len(train), Inner: fd.Inner}
	if b.table != nil {
		man.SpinFits = b.fits
	}
	e := &ResidualEnsemble{Manifest: man, Tracker: b.tracker}
	for _, f := range members {
		e.models = append(e.models, f.(*Residual).it.m)
	}
	if e.Physics, err = NewPhysics(b.props, PhysicsConfig{Horizons: cfg.Horizons, SpreadWorld: cfg.SpreadWorld, Spread: fd.Spread}); err != nil {
		return nil, err
	}
	e.Forecaster = spreadEnsemble(members, man.Spread, man.SpreadWorld)
	return e, nil
}

// spreadEnsemble is the mixture of the members, each scaled by the spread.
func spreadEnsemble(members []Forecaster, spread [3]float64, world bool) *Ensemble {
	e := &Ensemble{}
	for _, f := range members {
		e.Members = append(e.Members, &Spread{F: f, Factor: spread, World: world})
	}
	return e
}

// Save writes the members for FILE.onnx as FILE.j.onnx (Model.Save: with their flow maps
// FILE.j.flow.onnx) and the manifest as FILE.residual.json (ResidualPath), and returns
// the manifest's path.
func (e *ResidualEnsemble) Save(onnx string) (string, error) {
	if !strings.HasSuffix(onnx, ".onnx") {
		return "", fmt.Errorf("forecast: residual ensemble: %q: want a FILE.onnx path", onnx)
	}
	man := e.Manifest
	man.Members = nil
	stem := strings.TrimSuffix(onnx, ".onnx")
	for j, m := range e.models {
		p := fmt.Sprintf("%s.%d.onnx", stem, j)
		if err := m.Save(p); err != nil {
			return "", err
		}
		man.Members = append(man.Members, filepath.Base(p))
	}
	data, err := json.MarshalIndent(&man, "", "  ")
	if err != nil {
		return "", err
	}
	path := ResidualPath(onnx)
	if err := WriteFileAtomic(path, append(data, '\n')); err != nil {
		return "", err
	}
	e.Manifest.Members = man.Members
	return path, nil
}

// LoadResidualEnsemble reads a residual ensemble's manifest (FILE.residual.json) and its
// members, and rebuilds the estimator it was trained with: newTracker (CVConfig.NewTracker)
// with the manifest's ball, process noise and spin prior (the spin table rebuilt from the
// recorded fits). The members run on the Go sampler (SamplerConfig{}), as in training.
func LoadResidualEnsemble(path string, newTracker func(props ball.Props, processNoise, spinStd float64, prior ball.SpinPrior) (Tracker, error)) (*ResidualEnsemble, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: residual ensemble: %w", err)
	}
	e := &ResidualEnsemble{}
	if err := json.Unmarshal(data, &e.Manifest); err != nil {
		return nil, fmt.Errorf("forecast: residual ensemble %s: %w", path, err)
	}
	man := &e.Manifest
	if len(man.Members) == 0 {
		return nil, fmt.Errorf("forecast: residual ensemble %s: no members", path)
	}
	dir := filepath.Dir(path)
	var members []Forecaster
	for j, name := range man.Members {
		p := filepath.Join(dir, name)
		m, err := LoadModel(p)
		if err != nil {
			return nil, fmt.Errorf("forecast: residual ensemble %s: member %d: %w", path, j, err)
		}
		it, err := NewInterpolant(m, nil, nil, SamplerConfig{})
		if err != nil {
			return nil, fmt.Errorf("forecast: residual ensemble %s: member %d (%s): %w", path, j, p, err)
		}
		r, err := NewResidual(it)
		if err != nil {
			return nil, fmt.Errorf("forecast: residual ensemble %s: member %d (%s): %w", path, j, p, err)
		}
		if dt, h := r.Horizons(); dt != man.Horizons.Dt || h != man.Horizons.H {
			return nil, fmt.Errorf("forecast: residual ensemble %s: member %d (%s): horizons %d × %g s, the manifest's %d × %g s", path, j, p, h, dt, man.Horizons.H, man.Horizons.Dt)
		}
		e.models = append(e.models, m)
		members = append(members, r)
	}
	var table *ball.SpinTable
	if man.SpinTable != nil {
		if table, err = ball.NewSpinTable(man.SpinFits, *man.SpinTable); err != nil {
			return nil, fmt.Errorf("forecast: residual ensemble %s: %w", path, err)
		}
	}
	if e.Tracker, err = newCVTracker(newTracker, man.Ball, man.EstimatorNoise, man.SpinPrior, table, man.SpinTableScale, nil); err != nil {
		return nil, fmt.Errorf("forecast: residual ensemble %s: %w", path, err)
	}
	if e.Physics, err = NewPhysics(man.Ball, PhysicsConfig{Horizons: man.Horizons, SpreadWorld: man.SpreadWorld, Spread: man.PhysicsSpread}); err != nil {
		return nil, fmt.Errorf("forecast: residual ensemble %s: %w", path, err)
	}
	e.Forecaster = spreadEnsemble(members, man.Spread, man.SpreadWorld)
	return e, nil
}
