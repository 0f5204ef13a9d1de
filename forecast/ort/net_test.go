package ort

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/forecast"
)

// testModel is an untrained model with valid metadata and wide random weights, so that
// the comparison exercises every layer (not just the near-zero output layer).
func testModel(t testing.TB, hidden int) *forecast.Model {
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	h := forecast.Horizons{}.WithDefaults()
	d := h.H * 3
	meta := forecast.Meta{Version: forecast.MetaVersion, Ball: props, Horizons: h, Fit: forecast.FitConfig{}.WithDefaults(),
		Eps: 1, Diffusion: forecast.DiffusionFollmer, EMSteps: 50, S0: 0.05, FlowSteps: 2,
		CondMean: make([]float64, forecast.CondDim), CondStd: make([]float64, forecast.CondDim), Scale: make([]float64, d)}
	for i := range meta.CondStd {
		meta.CondStd[i] = 1
	}
	for i := range meta.Scale {
		meta.Scale[i] = 0.01
	}
	rng := rand.New(rand.NewPCG(4, 2))
	m := &forecast.Model{Meta: meta,
		Drift: forecast.NewMLP([]int{1 + d + forecast.CondDim, hidden, hidden, d}, rng),
		Flow:  forecast.NewMLP([]int{2 + d + forecast.CondDim, hidden, hidden, d}, rng)}
	for _, n := range []*forecast.MLP{m.Drift, m.Flow} {
		for i := range n.W[len(n.W)-1] {
			n.W[len(n.W)-1][i] *= 10
		}
		n.RoundToFloat32()
	}
	return m
}

// The exported drift and flow map, run by ONNX Runtime, agree with the native Go forward to
// 1e-5 on random inputs (float32 inputs and weights; ORT accumulates in float32 over ≤ 128
// terms of O(1): rounding ≈ 1e-6).
func TestGoMatchesONNXRuntime(t *testing.T) {
	m := testModel(t, 128)
	d := m.Meta.D()
	const batch = 64
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tc := range []struct {
		name   string
		native *forecast.MLP
		out    string
		bytes  func() ([]byte, error)
	}{
		{"drift", m.Drift, "drift", m.DriftONNX},
		{"flow", m.Flow, "flow", m.FlowONNX},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.bytes()
			require.NoError(t, err)
			net, err := NewNet(b, tc.out, tc.native.In(), d, batch, Config{})
			require.NoError(t, err)
			defer net.Close()
			in := make([]float64, batch*tc.native.In())
			want := make([]float64, batch*d)
			got := make([]float64, batch*d)
			for round := 0; round < 5; round++ {
				for i := range in {
					in[i] = float64(float32(rng.NormFloat64()))
				}
				require.NoError(t, tc.native.Forward(want, in, batch))
				require.NoError(t, net.Forward(got, in, batch))
				var worst float64
				for i := range want {
					worst = math.Max(worst, math.Abs(want[i]-got[i]))
				}
				require.Less(t, worst, 1e-5, "round %d", round)
			}
		})
	}
}

// The forecaster on ONNX Runtime draws the same samples as the native one from the same
// random stream (up to float32 rounding of the network).
func TestForecasterMatchesNative(t *testing.T) {
	m := testModel(t, 64)
	path := filepath.Join(t.TempDir(), "m.onnx")
	require.NoError(t, m.Save(path))
	m, err := forecast.LoadModel(path)
	require.NoError(t, err)
	in := flightInput(t, &m.Meta.Ball)
	for _, sc := range []forecast.SamplerConfig{{Method: forecast.MethodFlow, Steps: 2}, {Method: forecast.MethodEM, Steps: 10}} {
		ortF, err := NewForecaster(m, 16, sc, Config{})
		require.NoError(t, err)
		natF, err := forecast.NewInterpolant(m, nil, nil, sc)
		require.NoError(t, err)
		a := forecast.NewBuffer(0.02, 30, 16)
		b := forecast.NewBuffer(0.02, 30, 16)
		require.NoError(t, ortF.Forecast(in, rand.New(rand.NewPCG(1, 1)), &a))
		require.NoError(t, natF.Forecast(in, rand.New(rand.NewPCG(1, 1)), &b))
		for i := range a.Pos {
			// z differs by ≲ 1e-5 per step; × scale 0.01 m and a few steps: ≪ 1e-5 m.
			require.InDelta(t, b.Pos[i], a.Pos[i], 1e-5, "%s %d", sc.Method, i)
		}
		require.NoError(t, ortF.Close())
	}
}

func flightInput(t testing.TB, props *ball.Props) *forecast.Input {
	s := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.2, 3.8}, W: ball.Vec{0, 60, 60}}
	rng := rand.New(rand.NewPCG(5, 5))
	var hist []forecast.Obs
	for i := 0; i < 30; i++ {
		hist = append(hist, forecast.Obs{T: float64(i) * 0.008, P: ball.Vec{s.P[0] + 0.003*rng.NormFloat64(), s.P[1] + 0.003*rng.NormFloat64(), s.P[2] + 0.003*rng.NormFloat64()}})
		props.Step(&s, 0.008)
	}
	return &forecast.Input{Now: 0.24, History: hist}
}

// device: cuda on a library without the CUDA execution provider fails with an error that
// says so; a bad device name is rejected by Validate.
func TestCUDAUnavailableIsClear(t *testing.T) {
	m := testModel(t, 8)
	b, err := m.DriftONNX()
	require.NoError(t, err)
	net, err := NewNet(b, "drift", m.Drift.In(), m.Meta.D(), 4, Config{Device: "cuda"})
	if err == nil {
		// A GPU build with a GPU present: the session works.
		require.NoError(t, net.Close())
		return
	}
	require.ErrorContains(t, err, "CUDA execution provider")
	require.ErrorContains(t, err, LibEnv)
	require.ErrorContains(t, Config{Device: "tpu"}.Validate(), `device = "tpu"`)
}

// BenchmarkForecast256 times one forecast of 256 samples over the full horizon (0.6 s, 30
// horizons) on one core: the window fit, the sampler and the output, with ONNX Runtime on
// one thread. Run with GOMAXPROCS=1 for the single-core figure (the CLI's `make bench`
// passes -cpu 1 through GOTESTFLAGS if wanted).
func BenchmarkForecast256(b *testing.B) {
	runtime.GOMAXPROCS(1)
	path := filepath.Join("..", "models", "foam-light-ball.onnx")
	m, err := forecast.LoadModel(path)
	if err != nil {
		// Without the shipped model, time an untrained one of the same shape.
		m = testModel(b, 128)
	}
	in := flightInput(b, &m.Meta.Ball)
	for _, tc := range []struct {
		name string
		sc   forecast.SamplerConfig
	}{
		{"flow-1step", forecast.SamplerConfig{Method: forecast.MethodFlow, Steps: 1}},
		{"flow-2step", forecast.SamplerConfig{Method: forecast.MethodFlow, Steps: 2}},
		{"flow-4step", forecast.SamplerConfig{Method: forecast.MethodFlow, Steps: 4}},
		{"em-50step", forecast.SamplerConfig{Method: forecast.MethodEM, Steps: 50}},
	} {
		b.Run("ort/"+tc.name, func(b *testing.B) {
			f, err := NewForecaster(m, 256, tc.sc, Config{})
			require.NoError(b, err)
			defer f.Close()
			buf := forecast.NewBuffer(0.02, 30, 256)
			rng := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Forecast(in, rng, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("go/"+tc.name, func(b *testing.B) {
			f, err := forecast.NewInterpolant(m, nil, nil, tc.sc)
			require.NoError(b, err)
			buf := forecast.NewBuffer(0.02, 30, 256)
			rng := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Forecast(in, rng, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
