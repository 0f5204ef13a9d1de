package fused

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/policy"
)

// Layout of the parameter vector θ (docs/architecture.md §6, "fused").
//
// The first block is the context network of the learned MPC parameters: a
// linear layer from the ball context φ (NContext features and a bias) to
// one pre-activation u_i per tunable, u = clamp(W·[φ, 1], −3, 3); tunable i
// is its MPC default moved by u_i in the unit of that tunable (tunableMap).
// θ = 0 is the MPC's own configuration.
//
// The second block is the residual policy: a linear layer from the
// residual features (NResidualIn, with a bias) to the head-position
// correction c = ResidualMaxM·tanh(A·f), 3 outputs, and one more parameter
// that scales the time window before the catch in which the correction is
// brought in. θ = 0 corrects nothing.
const (
	// NContext is the number of ball-context features (contextFeatures).
	NContext = 7
	// NTunables is the number of MPC tunables the context network sets.
	NTunables = 14
	// NResidualIn is the number of residual features (residualFeatures).
	NResidualIn = 7
	// ResidualMaxM bounds each component of the head correction, m.
	ResidualMaxM = 0.05

	nCtxW   = NTunables * (NContext + 1)
	nResW   = 3 * (NResidualIn + 1)
	offRes  = nCtxW
	offWin  = nCtxW + nResW
	NParams = nCtxW + nResW + 1 // length of θ
)

// tunableMap says how pre-activation u moves tunable i from its default d:
// additively (d + scale·u) or multiplicatively (d·e^(scale·u)).
var tunableMap = [NTunables]struct {
	name  string
	scale float64
	mult  bool
}{
	{"catch_x_shift_m", 0.1, false},
	{"reach_pref_m", 0.05, false},
	{"catch_speed_mps", 0.2, true},
	{"catch_rel_speed_mps", 0.5, false},
	{"max_catch_speed_mps", 0.5, false},
	{"catch_speed_weight", 0.5, true},
	{"off_axis_weight", 0.5, true},
	{"pose_weight", 0.5, true},
	{"lambda", 0.5, true},
	{"effort_weight", 0.5, true},
	{"slow_down_s", 0.3, true},
	{"net_up_rad", 0.15, false},
	{"action_latency_s", 0.01, false},
	{"freeze_s", 0.5, true},
}

// TunableNames lists the tunables in θ's order (the rows of the context
// network).
func TunableNames() []string {
	out := make([]string, NTunables)
	for i, m := range tunableMap {
		out[i] = m.name
	}
	return out
}

// tunables is the MPC tunables as an array in tunableMap's order.
type tunables [NTunables]float64

func fromMPC(t *mpc.Tunables) tunables {
	return tunables{t.CatchXShiftM, t.ReachPrefM, t.CatchSpeed, t.CatchRelSpeed, t.MaxCatchSpeed,
		t.CatchSpeedWeight, t.OffAxisWeight, t.PoseWeight, t.Lambda, t.EffortWeight, t.SlowDownS, t.NetUpRad,
		t.ActionLatencyS, t.FreezeS}
}

func (a *tunables) toMPC(t *mpc.Tunables) {
	*t = mpc.Tunables{CatchXShiftM: a[0], ReachPrefM: a[1], CatchSpeed: a[2], CatchRelSpeed: a[3], MaxCatchSpeed: a[4],
		CatchSpeedWeight: a[5], OffAxisWeight: a[6], PoseWeight: a[7], Lambda: a[8], EffortWeight: a[9],
		SlowDownS: a[10], NetUpRad: a[11], ActionLatencyS: a[12], FreezeS: a[13]}
}

// mapTunables writes into dst the tunables for context phi under θ, from
// the defaults def.
func mapTunables(theta []float64, phi *[NContext]float64, def, dst *tunables) {
	for i := range tunableMap {
		w := theta[i*(NContext+1) : (i+1)*(NContext+1)]
		u := w[NContext]
		for k, f := range phi {
			u += w[k] * f
		}
		u = math.Max(-3, math.Min(3, u))
		m := &tunableMap[i]
		if m.mult {
			dst[i] = def[i] * math.Exp(m.scale*u)
		} else {
			dst[i] = def[i] + m.scale*u
		}
	}
}

// FileVersion is the version of the fused parameter file format.
const FileVersion = 1

// Params is a fused parameter file: θ and how it was made.
type Params struct {
	Version int       `json:"version"`
	Theta   []float64 `json:"theta"`
	// Tunables and ResidualInputs name the context network's rows and the
	// residual's inputs, for readers of the file.
	Tunables       []string `json:"tunables"`
	ResidualInputs []string `json:"residual_inputs"`
	// Trained records the training run (nil for the prior).
	Trained *policy.TrainInfo `json:"trained,omitempty"`
}

var residualInputNames = []string{"drift_x", "drift_y", "drift_z", "forecast_x", "forecast_y", "forecast_z", "forecast_spread"}

// Prior returns θ = 0: the MPC's configuration and no residual.
func Prior() *Params {
	return &Params{Version: FileVersion, Theta: make([]float64, NParams), Tunables: TunableNames(),
		ResidualInputs: append([]string(nil), residualInputNames...)}
}

// Validate checks the version, the length and that θ is finite.
func (p *Params) Validate() error {
	if p.Version != FileVersion {
		return fmt.Errorf("fused: parameter file version %d, want %d", p.Version, FileVersion)
	}
	if len(p.Theta) != NParams {
		return fmt.Errorf("fused: θ has %d values, want %d", len(p.Theta), NParams)
	}
	for i, v := range p.Theta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("fused: θ[%d] = %v, want a finite number", i, v)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	q := *p
	q.Theta = append([]float64(nil), p.Theta...)
	q.Tunables = append([]string(nil), p.Tunables...)
	q.ResidualInputs = append([]string(nil), p.ResidualInputs...)
	return &q
}

// Save writes p as JSON (atomically: a temporary file renamed).
func (p *Params) Save(path string) error {
	data, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fused-*")
	if err != nil {
		return fmt.Errorf("fused: save: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("fused: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("fused: save: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// Load reads and validates a parameter file.
func Load(path string) (*Params, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fused: %w", err)
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("fused: %s: %w", path, err)
	}
	return p, nil
}

func parse(data []byte) (*Params, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Params
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

//go:embed shipped/fused_params.json
var shipped []byte

// Shipped returns the parameters shipped with the binary
// (fused/shipped/fused_params.json).
func Shipped() (*Params, error) {
	p, err := parse(shipped)
	if err != nil {
		return nil, fmt.Errorf("fused: shipped parameters: %w", err)
	}
	return p, nil
}
