package forecast

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// tinyModel is an untrained model with valid metadata: enough for file and sampler tests.
func tinyModel(t testing.TB, flow bool) *Model {
	return tinyModelOf(t, flow, "")
}

// tinyModelOf is tinyModel conditioned on a kind of condition (Meta.CondKind).
func tinyModelOf(t testing.TB, flow bool, kind string) *Model {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	h := Horizons{}.WithDefaults()
	d := h.H * 3
	cd := condLen(kind)
	meta := Meta{Version: MetaVersion, Ball: props, Horizons: h, Fit: FitConfig{}.WithDefaults(), Eps: 1,
		Diffusion: DiffusionFollmer, EMSteps: 20, S0: 0.05, CondKind: kind,
		CondMean: make([]float64, cd), CondStd: make([]float64, cd), Scale: make([]float64, d)}
	for i := range meta.CondStd {
		meta.CondStd[i] = 1
	}
	for i := range meta.Scale {
		meta.Scale[i] = 0.01
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m := &Model{Meta: meta, Drift: NewMLP([]int{1 + d + cd, 16, d}, rng)}
	if flow {
		m.Flow = NewMLP([]int{2 + d + cd, 16, d}, rng)
		m.Meta.FlowSteps = 2
	}
	m.Drift.RoundToFloat32()
	if m.Flow != nil {
		m.Flow.RoundToFloat32()
	}
	return m
}

func TestModelSaveLoad(t *testing.T) {
	m := tinyModel(t, true)
	path := filepath.Join(t.TempDir(), "m.onnx")
	require.NoError(t, m.Save(path))
	got, err := LoadModel(path)
	require.NoError(t, err)
	require.Equal(t, m.Meta, got.Meta)
	require.Equal(t, m.Drift.W, got.Drift.W) // float32-rounded before saving: exact
	require.Equal(t, m.Flow.B, got.Flow.B)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(2<<20))
}

func TestLoadModelErrors(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t, true)
	good := filepath.Join(dir, "good.onnx")
	require.NoError(t, m.Save(good))
	plain, err := ExportONNX(m.Drift, "g", "in", "drift", nil)
	require.NoError(t, err)
	bad := *m
	bad.Meta.Scale = bad.Meta.Scale[:3]
	badMeta, err := ExportONNX(m.Drift, "g", "in", "drift", &bad.Meta)
	require.NoError(t, err)
	noflow := filepath.Join(dir, "noflow.onnx")
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(noflow, data, 0o644))

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.onnx", []byte{}, "empty file"},
		{"text.onnx", []byte("this is not a model\n"), "not an ONNX model"},
		{"plain.onnx", plain, "not a catch forecast model"},
		{"badmeta.onnx", badMeta, "scale has 3 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			_, err := LoadModel(p)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, tc.name)
		})
	}
	_, err = LoadModel(filepath.Join(dir, "missing.onnx"))
	require.ErrorContains(t, err, "no such file")
	_, err = LoadModel(noflow)
	require.ErrorContains(t, err, "noflow.flow.onnx")
}

// The interpolant forecaster writes finite samples around the drag-model extrapolation and
// allocates nothing once sized.
func TestInterpolantForecast(t *testing.T) {
	for _, method := range []string{MethodEM, MethodFlow, MethodODE} {
		t.Run(method, func(t *testing.T) {
			m := tinyModel(t, true)
			f, err := NewInterpolant(m, nil, nil, SamplerConfig{Method: method, Steps: 2})
			require.NoError(t, err)
			props := m.Meta.Ball
			s := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0, 3.8}}
			var hist []Obs
			for i := 0; i < 20; i++ {
				hist = append(hist, Obs{T: float64(i) * 0.008, P: s.P})
				props.Step(&s, 0.008)
			}
			in := Input{Now: 0.16, History: hist}
			buf := NewBuffer(0.02, 30, 32)
			rng := rand.New(rand.NewPCG(2, 2))
			require.NoError(t, f.Forecast(&in, rng, &buf))
			require.Equal(t, 30, buf.H)
			fit, ok := FitWindow(&props, m.Meta.Fit, hist, in.Now)
			require.True(t, ok)
			ref := make([]float64, 90)
			Reference(&props, &fit, 0.02, 30, ref)
			for i, v := range buf.Pos {
				require.False(t, math.IsNaN(v))
				// an untrained net moves samples by O(scale) = O(1 cm) per unit of z
				require.InDelta(t, ref[i%90], v, 0.2)
			}
			allocs := testing.AllocsPerRun(20, func() { _ = f.Forecast(&in, rng, &buf) })
			if method != MethodODE { // the teacher ODE keeps per-call scratch
				require.Zero(t, allocs)
			}
			require.ErrorIs(t, f.Forecast(&Input{Now: 0.01, History: hist[:2]}, rng, &buf), ErrNoCondition)
			require.ErrorContains(t, f.Forecast(&in, rng, &control.Forecast{}), "no samples")
		})
	}
	_, err := NewInterpolant(tinyModel(t, false), nil, nil, SamplerConfig{Method: MethodFlow})
	require.ErrorContains(t, err, "no flow map")
	_, err = NewInterpolant(tinyModel(t, true), nil, nil, SamplerConfig{Method: MethodFlow, Steps: 5})
	require.ErrorContains(t, err, "1..4")
}

// With no covariance and no process noise, the baseline's samples are the deterministic
// drag/Magnus flight; with covariance, the spread at the first horizon follows it.
func TestPhysics(t *testing.T) {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	est := ball.Estimate{Valid: true, T: 0.2, State: ball.State{P: ball.Vec{2, 0.1, 1.2}, V: ball.Vec{-4.5, 0.2, 1}, W: ball.Vec{0, 30, 0}}}
	p, err := NewPhysics(props, PhysicsConfig{ProcessNoise: -1})
	require.NoError(t, err)
	buf := NewBuffer(0.02, 30, 8)
	rng := rand.New(rand.NewPCG(1, 2))
	require.NoError(t, p.Forecast(&Input{Now: 0.2, Estimate: &est}, rng, &buf))
	s := est.State
	for h := 0; h < 30; h++ {
		props.Propagate(&s, 0.02, 0)
		for n := 0; n < 8; n++ {
			for k := 0; k < 3; k++ {
				// 10 ms vs 1 ms RK4 steps: ≪ 1 µm apart over 0.6 s.
				require.InDelta(t, s.P[k], buf.Pos[(n*30+h)*3+k], 1e-6)
			}
		}
	}
	// σ = 1 cm in x position only: the sample std of x at 20 ms is ≈ 1 cm.
	est.Cov[0] = 1e-4
	buf = NewBuffer(0.02, 30, 4000)
	require.NoError(t, p.Forecast(&Input{Now: 0.2, Estimate: &est}, rng, &buf))
	var m, ss float64
	for n := 0; n < 4000; n++ {
		x := buf.Pos[n*90]
		m += x
		ss += x * x
	}
	m /= 4000
	sd := math.Sqrt(ss/4000 - m*m)
	require.InDelta(t, 0.01, sd, 0.0006) // 4000 samples: the std's own σ ≈ 1.1%·0.01
	allocs := testing.AllocsPerRun(10, func() { _ = p.Forecast(&Input{Now: 0.2, Estimate: &est}, rng, &buf) })
	require.Zero(t, allocs)
	require.ErrorIs(t, p.Forecast(&Input{Now: 0.2}, rng, &buf), ErrNoCondition)

	// A spin known to ±50 rad/s about z (across the velocity) spreads the samples sideways
	// by about k_l·σ_ω·|v|·t²/2 at the last horizon, t = 0.6 s: the sample σ of y matches it.
	est.Cov = [36]float64{}
	est.CovW[8] = 50 * 50
	require.NoError(t, p.Forecast(&Input{Now: 0.2, Estimate: &est}, rng, &buf))
	m, ss = 0, 0
	for n := 0; n < 4000; n++ {
		y := buf.Pos[n*90+29*3+1]
		m += y
		ss += y * y
	}
	m /= 4000
	_, kl, _ := props.Coeffs()
	want := kl * 50 * math.Hypot(4.5, 0.2) * 0.6 * 0.6 / 2
	require.InDelta(t, want, math.Sqrt(ss/4000-m*m), 0.15*want) // drag slows v over the 0.6 s: ≈10% less
}

func TestScores(t *testing.T) {
	// Point forecast: the energy score is the distance, CRPS the absolute error.
	require.InDelta(t, 5, EnergyScore([]float64{3, 4}, 1, 2, []float64{0, 0}), 1e-12)
	require.InDelta(t, 2, CRPS([]float64{3}, 1), 1e-12)
	// CRPS of N(0,1) at y = 0 is (√2 − 1)/√π ≈ 0.2337.
	rng := rand.New(rand.NewPCG(9, 9))
	v := make([]float64, 20000)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	// Monte Carlo with 20000 samples: error ≈ 0.003.
	require.InDelta(t, (math.Sqrt2-1)/math.Sqrt(math.Pi), CRPS(v, 0), 0.01)
	require.InDelta(t, 1.6449, Quantile(v, 0.95), 0.05)
}

func TestHistoryRing(t *testing.T) {
	h := NewHistory(4)
	for i := 0; i < 6; i++ {
		h.Add(float64(i), ball.Vec{float64(i)})
	}
	w := h.Window()
	require.Len(t, w, 4)
	require.Equal(t, []float64{2, 3, 4, 5}, []float64{w[0].T, w[1].T, w[2].T, w[3].T})
	require.Zero(t, testing.AllocsPerRun(10, func() { h.Add(9, ball.Vec{}); _ = h.Window() }))
	h.Reset()
	require.Empty(t, h.Window())
}

// A flow map from another model beside a drift file is refused (the old loader paired any
// flow map of the right shape with the drift model); Save writes the flow map before the
// drift file, so the drift file, which names the flow map, lands last.
func TestLoadModelRefusesForeignFlowMap(t *testing.T) {
	dir := t.TempDir()
	a := tinyModel(t, true)
	b := tinyModel(t, true)
	b.Meta.Scale[0] = 0.02 // another training run: other normalisation
	pa, pb := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
	require.NoError(t, a.Save(pa))
	require.NoError(t, b.Save(pb))
	_, err := LoadModel(pa)
	require.NoError(t, err)
	flow, err := os.ReadFile(FlowPath(pb))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(FlowPath(pa), flow, 0o644))
	_, err = LoadModel(pa)
	require.ErrorContains(t, err, "belongs to another model")

	require.NoError(t, a.Save(pa))
	fa, err := os.Stat(FlowPath(pa))
	require.NoError(t, err)
	da, err := os.Stat(pa)
	require.NoError(t, err)
	require.False(t, da.ModTime().Before(fa.ModTime()), "the drift file (the manifest) is written last")
}
