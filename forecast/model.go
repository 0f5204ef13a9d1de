package forecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agilecatch/catch/ball"
)

// MetaVersion is the version of the model metadata this package writes and reads.
const MetaVersion = 1

// Meta is everything besides the weights that a trained forecaster needs; it travels in
// the ONNX file's metadata_props under MetaKey, as JSON.
type Meta struct {
	Version  int        `json:"version"`
	Ball     ball.Props `json:"ball"`
	Horizons Horizons   `json:"horizons"`
	Fit      FitConfig  `json:"fit"`
	// Eps is ε of σ(s) = ε(1−s), in normalised units.
	Eps float64 `json:"eps"`
	// Diffusion is the sampling SDE's g(s) chosen after training (sigma or follmer).
	Diffusion string `json:"diffusion"`
	// EMSteps is the default number of Euler–Maruyama steps.
	EMSteps int `json:"em_steps"`
	// S0 is where the flow map starts (the probability-flow ODE from a Gaussian at s₀).
	S0 float64 `json:"s0"`
	// FlowSteps is the default number of flow-map steps (0: no flow map).
	FlowSteps int `json:"flow_steps"`
	// FlowNoise is the flow map's default starting-noise scale, calibrated after
	// distillation so that the central 90% intervals of the held-out forecasts 0.3 s ahead
	// cover 90% of the truths (0: 1, uncalibrated).
	FlowNoise float64 `json:"flow_noise,omitempty"`
	// CondKind says what the condition is read from: "" the window fit (Fit.Cond, CondDim
	// values; Interpolant), CondEstimate the estimator's output (EstimateCond,
	// EstimateCondDim values; Residual).
	CondKind string `json:"cond_kind,omitempty"`
	// CondMean and CondStd normalise the condition vector (length CondLen).
	CondMean []float64 `json:"cond_mean"`
	CondStd  []float64 `json:"cond_std"`
	// CondLo and CondHi are the 0.5% and 99.5% quantiles of each condition coordinate over
	// the training windows (raw units, see Fit.Cond): the training envelope InRange checks.
	// Empty in models trained before they were stored: InRange then uses CondMean ± 3·CondStd.
	CondLo []float64 `json:"cond_lo,omitempty"`
	CondHi []float64 `json:"cond_hi,omitempty"`
	// Scale is the per-coordinate scale of the residual (H×3, m): z = residual/scale.
	Scale []float64 `json:"scale"`
	// LatencyS is the observation latency of the training data, s.
	LatencyS float64 `json:"latency_s"`
	// Provenance.
	Source   string `json:"source"`
	Episodes int    `json:"episodes"`
	Seed     uint64 `json:"seed"`
	// Build is the training binary's provenance record (build, command
	// line, config hash, seed; package internal/provenance), as JSON.
	Build json.RawMessage `json:"build,omitempty"`
}

// MetaKey is the metadata_props key of Meta in the ONNX file.
const MetaKey = "catch.forecast.meta"

// D is the dimension of a trajectory: H horizons × 3 coordinates.
func (m *Meta) D() int { return m.Horizons.H * 3 }

// Validate checks the metadata against itself.
func (m *Meta) Validate() error {
	if m.Version != MetaVersion {
		return fmt.Errorf("metadata version %d, this build reads version %d", m.Version, MetaVersion)
	}
	if err := m.Ball.Validate(); err != nil {
		return err
	}
	if err := m.Horizons.Validate(); err != nil {
		return err
	}
	if m.Horizons.Dt == 0 || m.Horizons.H == 0 {
		return errors.New("horizons missing")
	}
	if !(m.Eps > 0) {
		return fmt.Errorf("eps = %v, want > 0", m.Eps)
	}
	switch m.Diffusion {
	case DiffusionSigma, DiffusionFollmer:
	default:
		return fmt.Errorf("diffusion %q, want %s or %s", m.Diffusion, DiffusionSigma, DiffusionFollmer)
	}
	cd := condLen(m.CondKind)
	if cd == 0 {
		return fmt.Errorf("cond_kind %q, want empty (window fit) or %s", m.CondKind, CondEstimate)
	}
	if (len(m.CondLo) != 0 || len(m.CondHi) != 0) && (len(m.CondLo) != cd || len(m.CondHi) != cd) {
		return fmt.Errorf("cond_lo/cond_hi have %d/%d values, want %d", len(m.CondLo), len(m.CondHi), cd)
	}
	if len(m.CondMean) != cd || len(m.CondStd) != cd {
		return fmt.Errorf("cond_mean/cond_std have %d/%d values, want %d", len(m.CondMean), len(m.CondStd), cd)
	}
	if len(m.Scale) != m.D() {
		return fmt.Errorf("scale has %d values, want H·3 = %d", len(m.Scale), m.D())
	}
	for _, v := range append(append([]float64{}, m.CondStd...), m.Scale...) {
		if !(v > 0) || !finite(v) {
			return errors.New("cond_std and scale must be positive and finite")
		}
	}
	if m.EMSteps < 1 {
		return fmt.Errorf("em_steps = %d, want ≥ 1", m.EMSteps)
	}
	if !(m.FlowNoise >= 0 && m.FlowNoise <= 10) {
		return fmt.Errorf("flow_noise = %v, want 0 (uncalibrated) or (0, 10]", m.FlowNoise)
	}
	if m.FlowSteps < 0 || m.FlowSteps > 4 || (m.FlowSteps > 0 && !(m.S0 > 0 && m.S0 < 1)) {
		return fmt.Errorf("flow_steps = %d with s0 = %v, want 0..4 and s0 in (0, 1)", m.FlowSteps, m.S0)
	}
	return nil
}

// CondLen is the length of the model's condition vector (CondDim or EstimateCondDim).
func (m *Meta) CondLen() int { return condLen(m.CondKind) }

// condLen is the condition length of a kind (Meta.CondKind), 0 for an unknown kind.
func condLen(kind string) int {
	switch kind {
	case "":
		return CondDim
	case CondEstimate:
		return EstimateCondDim
	}
	return 0
}

// CondNames name the condition coordinates (Fit.Cond), for reports.
var CondNames = [CondDim]string{"horizontal speed", "vertical speed", "extra accel x′", "extra accel y′", "extra accel z′", "window span", "window fill", "age", "fit rms"}

// InRange reports whether a raw condition (Fit.Cond) lies inside the training envelope:
// each coordinate within [CondLo − ½σ, CondHi + ½σ], or CondMean ± 3σ for models without
// stored quantiles. When it does not, out is the first coordinate outside (else −1).
func (m *Meta) InRange(cond []float64) (in bool, out int) {
	cd := len(m.CondMean)
	for k := 0; k < cd; k++ {
		lo, hi := m.CondMean[k]-3*m.CondStd[k], m.CondMean[k]+3*m.CondStd[k]
		if len(m.CondLo) == cd && len(m.CondHi) == cd {
			lo, hi = m.CondLo[k]-0.5*m.CondStd[k], m.CondHi[k]+0.5*m.CondStd[k]
		}
		if !(cond[k] >= lo && cond[k] <= hi) {
			return false, k
		}
	}
	return true, -1
}

func (m *Meta) normCond(c []float64) {
	for i := range c {
		c[i] = (c[i] - m.CondMean[i]) / m.CondStd[i]
	}
}

// Model is a trained interpolant forecaster: metadata, the drift network and (optionally)
// the distilled flow map. Its files are FILE.onnx (the drift) and FILE.flow.onnx (the flow
// map), each a self-contained ONNX model carrying the metadata.
type Model struct {
	Meta  Meta
	Drift *MLP
	Flow  *MLP // nil without distillation
}

// FlowPath returns the flow map's file for a drift file: x.onnx → x.flow.onnx.
func FlowPath(path string) string {
	return strings.TrimSuffix(path, ".onnx") + ".flow.onnx"
}

// DriftONNX serialises the drift network: input "in" [batch, 1+D+CondDim] laid out as
// (s, z, cond); output "drift" [batch, D].
func (m *Model) DriftONNX() ([]byte, error) {
	return ExportONNX(m.Drift, "drift", "in", "drift", &m.Meta)
}

// FlowONNX serialises the flow-map network: input "in" [batch, 2+D+CondDim] laid out as
// (s, t, z, cond); output "flow" [batch, D]; the map is X_t = z + (t−s)·flow.
func (m *Model) FlowONNX() ([]byte, error) {
	if m.Flow == nil {
		return nil, errors.New("forecast: model has no flow map")
	}
	return ExportONNX(m.Flow, "flow_map", "in", "flow", &m.Meta)
}

// Save writes the model files atomically (temp file, then rename).
func (m *Model) Save(path string) error {
	if err := m.Meta.Validate(); err != nil {
		return fmt.Errorf("forecast: save %s: %w", path, err)
	}
	// The flow map first, the drift file last: the drift file is the pair's
	// manifest (its metadata names the flow map), and LoadModel refuses a
	// flow map whose metadata is not the drift file's, so a crash between the
	// two renames leaves a pair that is refused, never a mixed model.
	if m.Flow != nil {
		b, err := m.FlowONNX()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(FlowPath(path), b); err != nil {
			return err
		}
	}
	b, err := m.DriftONNX()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// LoadModel reads a model saved by Save. The error says what is wrong with which file.
func LoadModel(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: model: %w", err)
	}
	net, meta, err := ImportONNX(data)
	if err != nil {
		return nil, fmt.Errorf("forecast: model %s: %w", path, err)
	}
	m := &Model{Meta: *meta, Drift: net}
	d := meta.D()
	if cd := meta.CondLen(); net.In() != 1+d+cd || net.Out() != d {
		return nil, fmt.Errorf("forecast: model %s: drift network is %d→%d, want %d→%d for %d horizons", path, net.In(), net.Out(), 1+d+cd, d, meta.Horizons.H)
	}
	if meta.FlowSteps > 0 {
		fp := FlowPath(path)
		data, err := os.ReadFile(fp)
		if err != nil {
			return nil, fmt.Errorf("forecast: model %s names a flow map (flow_steps %d), but: %w", path, meta.FlowSteps, err)
		}
		fnet, fmeta, err := ImportONNX(data)
		if err != nil {
			return nil, fmt.Errorf("forecast: flow map %s: %w", fp, err)
		}
		// Both files of a pair carry the same metadata (Save): a flow map
		// from another training run is refused.
		mj, _ := json.Marshal(meta)
		fj, _ := json.Marshal(fmeta)
		if !bytes.Equal(mj, fj) {
			return nil, fmt.Errorf("forecast: flow map %s belongs to another model than %s (their metadata differ): retrain, or copy the pair together", fp, path)
		}
		if cd := meta.CondLen(); fnet.In() != 2+d+cd || fnet.Out() != d {
			return nil, fmt.Errorf("forecast: flow map %s is %d→%d, want %d→%d", fp, fnet.In(), fnet.Out(), 2+d+cd, d)
		}
		m.Flow = fnet
	}
	return m, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same directory and
// a rename, so a crash leaves either the old file or the new one.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("forecast: write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o644) // CreateTemp makes 0600; a model or checkpoint is an ordinary file
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("forecast: write %s: %w", path, werr)
	}
	return nil
}

func marshalMeta(m *Meta) (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}
