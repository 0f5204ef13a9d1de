package forecast

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// The interpolant (docs/architecture.md §7; Chen et al., ICML 2024), in the normalised residual space
// z = residual/scale with x₀ = 0 (the point mass at the condition's drag-model extrapolation):
//
//	X_s = α(s)x₀ + β(s)x₁ + σ(s)W_s,  α = 1−s, β = s², σ = ε(1−s),
//
// and the drift b(s, x, c) = E[α̇x₀ + β̇x₁ + σ̇W_s | X_s = x, c] is fitted by square loss on
// the target 2s·x₁ − ε·W_s. From b one recovers η = E[W_s | X_s] = (2x − s·b)/(ε(2−s)) and the
// score −η/(sσ), so the diffusion g(s) of the sampling SDE dX = b_g ds + g dW can be chosen
// after training: b_g = b + ½(g² − σ²)·score.

// Diffusion names a choice of g(s).
const (
	// DiffusionSigma is g = σ(s): the interpolant's own noise, b_g = b.
	DiffusionSigma = "sigma"
	// DiffusionFollmer is the Föllmer-type choice g² = 2sσ(β̇σ/β − σ̇) − σ² = ε²(1−s)(3−s),
	// b_g = b − ε·η/s.
	DiffusionFollmer = "follmer"
)

// Sampler methods.
const (
	// MethodEM is Euler–Maruyama on the SDE with the drift network.
	MethodEM = "em"
	// MethodFlow is the distilled flow map of the probability-flow ODE (1–4 steps).
	MethodFlow = "flow"
	// MethodODE is the probability-flow ODE integrated with Heun's method (the distillation
	// teacher).
	MethodODE = "ode"
)

// etaOverS returns η/s for one coordinate at s (x = 0 at s = 0, the point mass).
func etaOverS(s, x, b, eps float64) float64 {
	xs := 0.0
	if s > 0 {
		xs = x / s
	}
	return (2*xs - b) / (eps * (2 - s))
}

// SamplerConfig chooses how the interpolant forecaster samples.
type SamplerConfig struct {
	// Method is em, flow or ode; default flow when the model has a flow map, else em.
	Method string `yaml:"method" json:"method"`
	// Steps is the number of steps; default: the model's (Meta.FlowSteps for flow,
	// Meta.EMSteps for em and ode).
	Steps int `yaml:"steps" json:"steps"`
	// Diffusion overrides the model's diffusion choice for em ("sigma" or "follmer").
	Diffusion string `yaml:"diffusion" json:"diffusion"`
	// FlowNoise scales the flow map's starting noise (a temperature: below 1 narrows the
	// samples, 1 is the interpolant's own σ(s₀)√s₀); default the model's calibrated
	// Meta.FlowNoise, or 1.
	FlowNoise float64 `yaml:"flow_noise" json:"flow_noise"`
}

// Interpolant is the stochastic-interpolant forecaster: it fits the observation window
// (FitWindow), builds the condition, samples residual trajectories with the drift network
// (or the flow map) batched over samples, and adds them to the drag-model extrapolation.
// It reads Input.History only. After the first Forecast at a sample count it does not
// allocate (with the native MLP; ONNX Runtime allocates inside its C library only).
type Interpolant struct {
	m       *Model
	drift   Net
	flow    Net
	method  string
	steps   int
	temp    float64
	diff    string
	n       int // batch the buffers are sized for
	in, out []float64
	x       []float64
	cd      int // condition length (Meta.CondLen)
	cond    []float64
	ref     []float64
}

// NewInterpolant returns a forecaster for model m, evaluating the drift (and flow map) with
// the given nets (the model's native MLPs when nil).
func NewInterpolant(m *Model, drift, flow Net, cfg SamplerConfig) (*Interpolant, error) {
	if drift == nil {
		drift = m.Drift
	}
	if flow == nil && m.Flow != nil {
		flow = m.Flow
	}
	f := &Interpolant{m: m, drift: drift, flow: flow, method: cfg.Method, steps: cfg.Steps, diff: cfg.Diffusion, temp: cfg.FlowNoise}
	if f.temp == 0 {
		f.temp = m.Meta.FlowNoise
	}
	if f.temp == 0 {
		f.temp = 1
	}
	if !(f.temp > 0 && f.temp <= 10) {
		return nil, fmt.Errorf("forecast: sampler flow_noise = %v, want (0, 10]", cfg.FlowNoise)
	}
	if f.method == "" {
		f.method = MethodEM
		if flow != nil {
			f.method = MethodFlow
		}
	}
	if f.diff == "" {
		f.diff = m.Meta.Diffusion
	}
	switch f.diff {
	case DiffusionSigma, DiffusionFollmer:
	default:
		return nil, fmt.Errorf("forecast: sampler diffusion %q, want %s or %s", f.diff, DiffusionSigma, DiffusionFollmer)
	}
	d := m.Meta.D()
	f.cd = m.Meta.CondLen()
	if f.cd == 0 {
		return nil, fmt.Errorf("forecast: model cond_kind %q, want empty or %s", m.Meta.CondKind, CondEstimate)
	}
	f.cond = make([]float64, f.cd)
	switch f.method {
	case MethodEM, MethodODE:
		if f.steps == 0 {
			f.steps = m.Meta.EMSteps
		}
		if f.steps < 1 || f.steps > 10000 {
			return nil, fmt.Errorf("forecast: sampler steps = %d, want 1..10000 for %s", f.steps, f.method)
		}
	case MethodFlow:
		if flow == nil {
			return nil, errors.New("forecast: sampler method flow: the model has no flow map (train it with distillation steps > 0)")
		}
		if f.steps == 0 {
			f.steps = m.Meta.FlowSteps
		}
		if f.steps < 1 || f.steps > 4 {
			return nil, fmt.Errorf("forecast: sampler steps = %d, want 1..4 for the flow map", f.steps)
		}
		if flow.In() != 2+d+f.cd || flow.Out() != d {
			return nil, fmt.Errorf("forecast: flow net is %d→%d, want %d→%d", flow.In(), flow.Out(), 2+d+f.cd, d)
		}
	default:
		return nil, fmt.Errorf("forecast: sampler method %q, want %s, %s or %s", f.method, MethodEM, MethodFlow, MethodODE)
	}
	if drift.In() != 1+d+f.cd || drift.Out() != d {
		return nil, fmt.Errorf("forecast: drift net is %d→%d, want %d→%d", drift.In(), drift.Out(), 1+d+f.cd, d)
	}
	f.ref = make([]float64, d)
	return f, nil
}

// Horizons implements Forecaster.
func (f *Interpolant) Horizons() (float64, int) { return f.m.Meta.Horizons.Dt, f.m.Meta.Horizons.H }

// Method returns the sampler method and step count in use.
func (f *Interpolant) Method() (string, int) { return f.method, f.steps }

// FlowNoise is the flow map's starting-noise scale in use (the configured one, else the
// model's calibrated one, else 1).
func (f *Interpolant) FlowNoise() float64 { return f.temp }

func (f *Interpolant) size(n int) {
	if f.n >= n {
		return
	}
	d := f.m.Meta.D()
	f.n = n
	f.in = make([]float64, n*(2+d+f.cd))
	f.out = make([]float64, n*d)
	f.x = make([]float64, n*d)
}

// Condition writes the raw condition (Fit.Cond) of an input into dst; false when the
// history does not give one (the forecast would be ErrNoCondition) or the model does not
// condition on the window fit (a Residual's model).
func (f *Interpolant) Condition(in *Input, dst []float64) bool {
	meta := &f.m.Meta
	if meta.CondKind != "" {
		return false
	}
	fit, ok := FitWindow(&meta.Ball, meta.Fit, in.History, in.Now)
	if !ok {
		return false
	}
	fit.Cond(meta.Fit.MaxObs, dst)
	return true
}

// Meta returns the model's metadata (read only).
func (f *Interpolant) Meta() *Meta { return &f.m.Meta }

// Forecast implements Forecaster.
func (f *Interpolant) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	meta := &f.m.Meta
	hz := meta.Horizons
	if err := checkDst(dst, hz.H); err != nil {
		return err
	}
	if meta.CondKind != "" {
		return fmt.Errorf("forecast: the model conditions on %s, not the window fit: forecast with Residual", meta.CondKind)
	}
	fit, ok := FitWindow(&meta.Ball, meta.Fit, in.History, in.Now)
	if !ok {
		return ErrNoCondition
	}
	fit.Cond(meta.Fit.MaxObs, f.cond[:])
	meta.normCond(f.cond[:])
	Reference(&meta.Ball, &fit, hz.Dt, hz.H, f.ref)
	n := dst.N
	f.size(n)
	if err := f.SampleZ(f.cond[:], n, rng, f.x); err != nil {
		return err
	}
	dst.T0, dst.Dt, dst.H = in.Now, hz.Dt, hz.H
	writeSamples(dst, f.x, f.ref, NewFrame(fit.V), meta.Scale, n, hz.H)
	return nil
}

// writeSamples writes n sampled flights to dst.Pos: sample i is x's i-th
// row of h offsets (3 each, scaled by scale, in fr's axes) from the
// reference path ref, turned to world axes.
func writeSamples(dst *control.Forecast, x, ref []float64, fr Frame, scale []float64, n, h int) {
	d := 3 * h
	for i := 0; i < n; i++ {
		z := x[i*d : (i+1)*d]
		out := dst.Pos[i*d : (i+1)*d]
		for k := 0; k < h; k++ {
			r := fr.ToWorld(ball.Vec{z[k*3] * scale[k*3], z[k*3+1] * scale[k*3+1], z[k*3+2] * scale[k*3+2]})
			out[k*3] = ref[k*3] + r[0]
			out[k*3+1] = ref[k*3+1] + r[1]
			out[k*3+2] = ref[k*3+2] + r[2]
		}
	}
}

// SampleZ draws n normalised residual trajectories (n×D into x) for the normalised
// condition cond.
func (f *Interpolant) SampleZ(cond []float64, n int, rng *rand.Rand, x []float64) error {
	f.size(n)
	switch f.method {
	case MethodFlow:
		return f.sampleFlow(cond, n, rng, x)
	case MethodODE:
		return f.sampleODE(cond, n, rng, x, nil)
	default:
		return f.sampleEM(cond, n, rng, x)
	}
}

// fill writes the network inputs [times…, x, cond] for n rows.
func (f *Interpolant) fill(times []float64, cond []float64, x []float64, n int) []float64 {
	d := f.m.Meta.D()
	w := len(times) + d + f.cd
	in := f.in[:n*w]
	for i := 0; i < n; i++ {
		row := in[i*w : (i+1)*w]
		copy(row, times)
		copy(row[len(times):], x[i*d:(i+1)*d])
		copy(row[len(times)+d:], cond)
	}
	return in
}

func (f *Interpolant) sampleEM(cond []float64, n int, rng *rand.Rand, x []float64) error {
	d := f.m.Meta.D()
	eps := f.m.Meta.Eps
	x = x[:n*d]
	for i := range x {
		x[i] = 0
	}
	h := 1 / float64(f.steps)
	sq := math.Sqrt(h)
	var ts [1]float64
	for k := 0; k < f.steps; k++ {
		s := float64(k) * h
		ts[0] = s
		if err := f.drift.Forward(f.out, f.fill(ts[:], cond, x, n), n); err != nil {
			return err
		}
		var g float64
		if f.diff == DiffusionFollmer {
			g = eps * math.Sqrt((1-s)*(3-s))
			for i := range x {
				b := f.out[i]
				x[i] += (b-eps*etaOverS(s, x[i], b, eps))*h + g*sq*rng.NormFloat64()
			}
		} else {
			g = eps * (1 - s)
			for i := range x {
				x[i] += f.out[i]*h + g*sq*rng.NormFloat64()
			}
		}
	}
	return nil
}

// odeVel overwrites f.out (the drift at s, x) with the probability-flow velocity
// b − ½σ²·score = b + ½σ·η/s.
func (f *Interpolant) odeVel(s float64, cond, x []float64, n int) error {
	var ts [1]float64
	ts[0] = s
	if err := f.drift.Forward(f.out, f.fill(ts[:], cond, x, n), n); err != nil {
		return err
	}
	eps := f.m.Meta.Eps
	sig := eps * (1 - s)
	for i := range f.out[:n*f.m.Meta.D()] {
		b := f.out[i]
		f.out[i] = b + 0.5*sig*etaOverS(s, x[i], b, eps)
	}
	return nil
}

// flowStart draws X at s₀: the interpolant's marginal there is σ(s₀)W_{s₀} plus β(s₀)x₁,
// whose mean shift (β(s₀) = s₀² of a unit-scale x₁) is negligible.
func (f *Interpolant) flowStart(n int, rng *rand.Rand, x []float64) {
	s0 := f.m.Meta.S0
	sd := f.temp * f.m.Meta.Eps * (1 - s0) * math.Sqrt(s0)
	for i := range x[:n*f.m.Meta.D()] {
		x[i] = sd * rng.NormFloat64()
	}
}

// sampleODE integrates the probability-flow ODE from s₀ to 1 with Heun's method; when
// keep is not nil, keep(u, x) is called at each grid point u = j/steps (u = 0 at s₀).
func (f *Interpolant) sampleODE(cond []float64, n int, rng *rand.Rand, x []float64, keep func(j int, x []float64)) error {
	d := f.m.Meta.D()
	s0 := f.m.Meta.S0
	x = x[:n*d]
	f.flowStart(n, rng, x)
	if keep != nil {
		keep(0, x)
	}
	h := (1 - s0) / float64(f.steps)
	k1 := make([]float64, n*d)
	xp := make([]float64, n*d)
	for j := 0; j < f.steps; j++ {
		s := s0 + float64(j)*h
		if err := f.odeVel(s, cond, x, n); err != nil {
			return err
		}
		copy(k1, f.out[:n*d])
		for i := range xp {
			xp[i] = x[i] + h*k1[i]
		}
		if err := f.odeVel(s+h, cond, xp, n); err != nil {
			return err
		}
		for i := range x {
			x[i] += 0.5 * h * (k1[i] + f.out[i])
		}
		if keep != nil {
			keep(j+1, x)
		}
	}
	return nil
}

func (f *Interpolant) sampleFlow(cond []float64, n int, rng *rand.Rand, x []float64) error {
	d := f.m.Meta.D()
	s0 := f.m.Meta.S0
	x = x[:n*d]
	f.flowStart(n, rng, x)
	var ts [2]float64
	for j := 0; j < f.steps; j++ {
		s := s0 + (1-s0)*float64(j)/float64(f.steps)
		t := s0 + (1-s0)*float64(j+1)/float64(f.steps)
		ts[0], ts[1] = s, t
		if err := f.flow.Forward(f.out, f.fill(ts[:], cond, x, n), n); err != nil {
			return err
		}
		for i := range x {
			x[i] += (t - s) * f.out[i]
		}
	}
	return nil
}
