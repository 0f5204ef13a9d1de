package forecast

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception"
)

// synthFlights are noiseless simulated tennis flights, one per file, that start at
// different places with different speeds and spins.
func synthFlights(t *testing.T, files int) []Flight {
	t.Helper()
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	var fl []Flight
	for i := 0; i < files; i++ {
		s := ball.State{P: ball.Vec{4, 0.1 * float64(i), 0.8}, V: ball.Vec{-5 - 0.2*float64(i), 0.2, 3.5}, W: ball.Vec{0, 20 + 5*float64(i%3), 0}}
		f := Flight{Name: fmt.Sprintf("f%d.csv:0", i)}
		for n := 0; n < 125; n++ {
			f.T = append(f.T, float64(n)*0.008)
			f.P = append(f.P, s.P)
			props.Step(&s, 0.008)
		}
		fl = append(fl, f)
	}
	return fl
}

func perceptionTracker(p ball.Props, q, spin float64, prior ball.SpinPrior) (Tracker, error) {
	return perception.NewEstimator(perception.EstimatorConfig{ProcessNoise: q, EstimateSpin: true, SpinPriorStd: spin, SpinPrior: prior}, p)
}

func tinyResidualEnsemble(t *testing.T) (*ResidualEnsemble, []Flight) {
	t.Helper()
	base, err := ball.ByName("tennis")
	require.NoError(t, err)
	fl := synthFlights(t, 6)
	cfg := CVConfig{Dir: "synthetic", Base: base, Samples: 16, Seed: 5, InnerFolds: 3, SpinTable: &ball.SpinTableConfig{MinObs: 10},
		EstimatorNoise: []float64{0.3}, SpinScale: []float64{1}, NewTracker: perceptionTracker,
		Train: &TrainConfig{Steps: 20, DistillSteps: 10, DistillConds: 8, ValConds: 16, Batch: 32, Hidden: []int{16}, EMSteps: 4, TeacherSteps: 12, Seed: 7}}
	e, err := TrainResidualEnsemble(cfg, fl)
	require.NoError(t, err)
	return e, fl
}

// TestResidualEnsembleRoundTrip: a residual ensemble written and loaded back forecasts
// bit-identical samples to the one in memory, fed by its rebuilt estimator (whose spin
// table comes from the manifest), and the calibrated baseline agrees too.
func TestResidualEnsembleRoundTrip(t *testing.T) {
	e, fl := tinyResidualEnsemble(t)
	require.Len(t, e.Manifest.Inner, 3)
	require.Len(t, e.Manifest.SpinFits, 6)
	require.Equal(t, 1.0, e.Manifest.SpinTableScale)
	out := filepath.Join(t.TempDir(), "res.onnx")
	path, err := e.Save(out)
	require.NoError(t, err)
	require.Equal(t, ResidualPath(out), path)
	require.Equal(t, []string{"res.0.onnx", "res.1.onnx", "res.2.onnx"}, e.Manifest.Members)
	got, err := LoadResidualEnsemble(path, perceptionTracker)
	require.NoError(t, err)
	require.Equal(t, e.Manifest.Spread, got.Manifest.Spread)
	require.Equal(t, e.Manifest.Ball, got.Manifest.Ball)

	ws := FlightWindows(fl, 0, 0.1, 0.3, WindowConfig{Horizons: e.Manifest.Horizons})
	require.NotEmpty(t, ws)
	dt, h := e.Forecaster.Horizons()
	a, b := NewBuffer(dt, h, 32), NewBuffer(dt, h, 32)
	var ea, eb ball.Estimate
	forecasts := 0
	for i, w := range ws {
		estimateWindow(e.Tracker, w, &ea)
		estimateWindow(got.Tracker, w, &eb)
		require.Equal(t, ea, eb, "window %d: the rebuilt estimator", i)
		for _, pair := range [][2]Forecaster{{e.Forecaster, got.Forecaster}, {e.Physics, got.Physics}} {
			errA := pair[0].Forecast(&Input{Now: w.Now, History: w.History, Estimate: &ea}, rand.New(rand.NewPCG(9, uint64(i))), &a)
			errB := pair[1].Forecast(&Input{Now: w.Now, History: w.History, Estimate: &eb}, rand.New(rand.NewPCG(9, uint64(i))), &b)
			require.Equal(t, errA, errB)
			if errA != nil {
				continue
			}
			forecasts++
			require.Equal(t, a.Pos, b.Pos, "window %d: samples", i)
		}
	}
	require.Greater(t, forecasts, len(ws), "most windows forecast by both")
	// and a different seed gives different samples: the comparison can fail
	w := ws[len(ws)/2]
	estimateWindow(e.Tracker, w, &ea)
	require.NoError(t, e.Forecaster.Forecast(&Input{Now: w.Now, History: w.History, Estimate: &ea}, rand.New(rand.NewPCG(1, 1)), &a))
	require.NoError(t, got.Forecaster.Forecast(&Input{Now: w.Now, History: w.History, Estimate: &ea}, rand.New(rand.NewPCG(2, 1)), &b))
	require.NotEqual(t, a.Pos, b.Pos)
}

// TestLoadResidualEnsembleErrors: a missing member, and a member that is not a residual
// model, are refused with errors that name the member.
func TestLoadResidualEnsembleErrors(t *testing.T) {
	e, _ := tinyResidualEnsemble(t)
	dir := t.TempDir()
	path, err := e.Save(filepath.Join(dir, "res.onnx"))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "res.1.onnx")))
	_, err = LoadResidualEnsemble(path, perceptionTracker)
	require.ErrorContains(t, err, "member 1")
	require.ErrorContains(t, err, "res.1.onnx")

	// a window-fit model in a member's place
	_, err = e.Save(filepath.Join(dir, "res.onnx"))
	require.NoError(t, err)
	cfg := CVConfig{Dir: "synthetic", Train: &TrainConfig{Steps: 20, DistillSteps: -1, ValConds: 16, Batch: 32, Hidden: []int{16}, EMSteps: 4, TeacherSteps: 12}}
	cfg.withDefaults()
	plain, _, _, err := trainOnFlights(e.Manifest.Ball, synthFlights(t, 4), cfg, -1, nil)
	require.NoError(t, err)
	require.NotEqual(t, CondEstimate, plain.Meta.CondKind)
	require.NoError(t, plain.Save(filepath.Join(dir, "res.1.onnx")))
	_, err = LoadResidualEnsemble(path, perceptionTracker)
	require.ErrorContains(t, err, "member 1")
	require.ErrorContains(t, err, CondEstimate)
}
