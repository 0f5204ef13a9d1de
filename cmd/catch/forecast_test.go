package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/provenance"
)

func TestForecastCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.onnx")
	require.NoError(t, os.WriteFile(junk, []byte("not onnx"), 0o644))
	badCSV := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(badCSV, []byte("time,a,b\n1,2,3\n"), 0o644))
	for _, args := range [][]string{
		{"forecast", "eval", "--scenario", "nominal"},
		{"forecast", "eval", "--model", filepath.Join(dir, "missing.onnx"), "--scenario", "nominal"},
		{"forecast", "eval", "--model", junk, "--scenario", "nominal"},
		{"train", "forecast", "--scenario", "nominal", "--out", filepath.Join(dir, "m.bin")},
		{"train", "forecast", "--scenario", "no-such", "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--trajectories", badCSV, "--ball", "tennis", "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--trajectories", badCSV, "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--scenario", "nominal", "--ball", "golf", "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--trajectories", dir, "--ball", "tennis", "--fold", "9/5", "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--trajectories", badCSV, "--ball", "tennis", "--split", "heldout", "--out", filepath.Join(dir, "m.onnx")},
		{"train", "forecast", "--trajectories", dir, "--ball", filepath.Join(dir, "missing.yaml"), "--out", filepath.Join(dir, "m.onnx")},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, "%v", args)
	}
}

// A tiny end-to-end run: train (few steps), evaluate with --json, resume from a checkpoint.
func TestForecastCLITrainEval(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	code, stdout := runOut(t, "train", "forecast", "--scenario", "light-ball", "--episodes", "40", "--seed", "3",
		"--steps", "30", "--distill-steps", "20", "--distill-conds", "40", "--em-steps", "4", "--hidden", "32", "--out", out,
		"--dataset-out", filepath.Join(dir, "ds.bin"))
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "wrote "+out)
	for _, f := range []string{out, filepath.Join(dir, "m.flow.onnx"), filepath.Join(dir, "m.loss.png"), filepath.Join(dir, "ds.bin")} {
		require.FileExists(t, f)
	}
	require.NoFileExists(t, filepath.Join(dir, "m.ckpt"))
	// The model and its loss plot record where they came from.
	rec, err := provenance.ReadPNG(filepath.Join(dir, "m.loss.png"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), rec.Seed)
	onnx, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(onnx), `"command":["catch","train","forecast"`, "the ONNX metadata holds the provenance")

	code, stdout = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "12", "--seed", "9", "--samples", "32", "--json")
	require.Equal(t, 0, code, stdout)
	var res forecastEval
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, "flow", res.Sampler)
	require.Positive(t, res.FlowNoise)
	require.Equal(t, 12, res.Scores.Windows+res.Scores.Skipped)
	require.Greater(t, res.Physics.EnergyScore, 0.0)
	require.Greater(t, res.Scores.EnergyScore, 0.0)
	require.InDelta(t, 0.3, res.Scores.AtS, 1e-9)

	require.Nil(t, res.SpinRef)

	// The spin-tracking reference: on the light ball the spin shows in the flight, so tracking
	// it must beat the spin-blind baseline by far.
	code, stdout = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "40", "--seed", "9", "--samples", "32", "--spin-prior", "84", "--json")
	require.Equal(t, 0, code, stdout)
	res = forecastEval{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.NotNil(t, res.SpinRef)
	require.Equal(t, "physics-spin", res.SpinRef.Name)
	require.Equal(t, res.Physics.Windows, res.SpinRef.Windows)
	require.Less(t, res.SpinRef.EnergyScore, 0.7*res.Physics.EnergyScore)
	require.InDelta(t, res.SpinRef.EnergyScore/res.Physics.EnergyScore, res.SpinRefRatio, 1e-12)
	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "4", "--spin-prior", "-1")
	require.Equal(t, 2, code)
	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "4", "--spin-prior", "40", "--ref-estimator-noise", "0")
	require.Equal(t, 2, code)

	recordedEval(t, out)

	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "4", "--steps", "9", "--samples", "8")
	require.Equal(t, 0, code)
	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--method", "flow", "--steps", "7")
	require.Equal(t, 2, code)
}

// foamFlightCSV writes a simulated foam-ball flight as a tracker would record it (t_ns,
// metres, 1 mm noise, 180 Hz) with rows rewritten by edit (nil: as recorded).
func foamFlightCSV(t *testing.T, path string, seed uint64, edit func(rows []string) []string) {
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 2))
	s := ball.State{P: ball.Vec{3, 0.2 * rng.NormFloat64(), 1.2}, V: ball.Vec{-5, 0.3 * rng.NormFloat64(), 2.5}, W: ball.Vec{0, 40, 0}}
	var rows []string
	const dt = 1.0 / 180
	for i := 0; i < 150; i++ { // 0.83 s
		ns := int64(1669130908187064832) + int64(math.Round(float64(i)*dt*1e9))
		rows = append(rows, fmt.Sprintf("%d,%.6f,%.6f,%.6f", ns, s.P[0]+1e-3*rng.NormFloat64(), s.P[1]+1e-3*rng.NormFloat64(), s.P[2]+1e-3*rng.NormFloat64()))
		props.Step(&s, dt)
	}
	if edit != nil {
		rows = edit(rows)
	}
	require.NoError(t, os.WriteFile(path, []byte("t_ns,x_m,y_m,z_m\n"+strings.Join(rows, "\n")+"\n"), 0o644))
}

// recordedEval checks `forecast eval --trajectories` on a directory of generated recordings:
// bad files are skipped and counted, not fatal; repeated stamps are dropped and counted;
// the scores are finite and taken on the common windows; flags are validated.
func recordedEval(t *testing.T, model string) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		foamFlightCSV(t, filepath.Join(dir, fmt.Sprintf("good%d.csv", i)), uint64(i), nil)
	}
	foamFlightCSV(t, filepath.Join(dir, "dup.csv"), 7, func(r []string) []string {
		return append(r[:50], append([]string{r[49]}, r[50:]...)...)
	})
	foamFlightCSV(t, filepath.Join(dir, "yz.csv"), 8, func(r []string) []string {
		for i, row := range r {
			f := strings.Split(row, ",")
			f[2], f[3] = f[3], f[2]
			r[i] = strings.Join(f, ",")
		}
		return r
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.csv"), []byte("t,x,y,z\n0,1,2,3\n0.1,1,abc,3\n"), 0o644))
	args := []string{"forecast", "eval", "--model", model, "--trajectories", dir, "--ball", "foam", "--samples", "16", "--stride", "0.01", "--seed", "3"}
	code, stdout := runOut(t, append(args, "--json")...)
	require.Equal(t, 0, code, stdout)
	var res forecastEval
	require.NoError(t, json.Unmarshal([]byte(stdout), &res)) // no NaN anywhere
	require.NotNil(t, res.Read)
	require.Equal(t, 6, res.Read.Files)
	require.Equal(t, 4, res.Read.FilesRead)
	require.Len(t, res.Read.Skipped, 2)
	reasons := res.Read.Skipped[0].Reason + res.Read.Skipped[1].Reason
	require.Contains(t, reasons, "junk.csv")
	require.Contains(t, reasons, "yz.csv")
	require.Contains(t, reasons, "are y and z swapped")
	require.Equal(t, 1, res.Read.Duplicates)
	require.Equal(t, 4, res.Read.Pieces)
	require.Greater(t, res.Windows, 40)
	require.Equal(t, res.Common, res.Scores.Windows)
	require.Equal(t, res.Common, res.Physics.Windows)
	require.InDelta(t, res.Scores.EnergyScore/res.Physics.EnergyScore, res.ESRatio, 1e-12)
	// the guarded row and the split by the model's training envelope cover the same windows
	require.Equal(t, res.Common, res.Guarded.Windows)
	require.Equal(t, res.Common, res.Range.In.Windows+res.Range.Out.Windows)
	require.InDelta(t, res.Guarded.EnergyScore/res.Physics.EnergyScore, res.GuardedRatio, 1e-12)
	for _, s := range []float64{res.Scores.EnergyScore, res.Physics.EnergyScore, res.Scores.MeanErr, res.Physics.Cov90} {
		require.False(t, math.IsNaN(s))
	}
	// the text output carries the read counts too
	code, stdout = runOut(t, args...)
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "read 4 of 6 files (2 skipped)")

	// --min-cover-s must leave a truth at 0.3 s and stay inside the horizon
	for _, mc := range []string{"0.02", "0.01", "0.1", "0.29", "0.7", "-1"} {
		code, _ = runOut(t, append(args, "--min-cover-s", mc)...)
		require.Equal(t, 2, code, mc)
	}
	code, _ = runOut(t, append(args, "--min-cover-s", "0.6", "--json")...)
	require.Equal(t, 0, code)

	// a directory of files in mm: exit 2 with the unit named
	mm := t.TempDir()
	foamFlightCSV(t, filepath.Join(mm, "mm.csv"), 1, func(r []string) []string {
		for i, row := range r {
			f := strings.Split(row, ",")
			for k := 1; k < 4; k++ {
				var v float64
				fmt.Sscan(f[k], &v)
				f[k] = fmt.Sprintf("%.3f", 1000*v)
			}
			r[i] = strings.Join(f, ",")
		}
		return r
	})
	code, _ = runOut(t, "forecast", "eval", "--model", model, "--trajectories", mm, "--ball", "foam")
	require.Equal(t, 2, code)
}

// TestForecastCVSplitsByFile: `catch forecast cv` on generated recordings: every fold
// scores only its own files, trains on the others, and prints finite scores with
// provenance; bad flags exit 2.
func TestForecastCVSplitsByFile(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		foamFlightCSV(t, filepath.Join(dir, fmt.Sprintf("f%d.csv", i)), uint64(10+i), nil)
	}
	code, stdout := runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--samples", "32", "--stride", "0.05", "--seed", "3", "--spread-world", "--json")
	require.Equal(t, 0, code, stdout)
	var res forecastCV
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, uint64(3), res.Provenance.Seed)
	require.Len(t, res.Result.Folds, 5)
	for k, f := range res.Result.Folds {
		require.Equal(t, []string{fmt.Sprintf("f%d.csv", k)}, f.TestFiles)
		require.Len(t, f.TrainFiles, 4)
		require.NotContains(t, f.TrainFiles, f.TestFiles[0])
		require.Positive(t, f.TestWindows)
		require.Greater(t, f.Physics.MeanErr, 0.0)
		require.Less(t, f.Physics.MeanErr, 0.05, "fold %d: a clean foam flight is forecast to within centimetres", k)
		require.Equal(t, f.TrainFlights, f.SpinTable, "fold %d: the spin prior is the table of the training flights", k)
		require.Positive(t, f.SpinTableScale)
		for a := 0; a < 3; a++ {
			require.Greater(t, f.Spread[a], 0.0)
		}
	}
	require.Greater(t, res.Result.Mean.PhysicsCov90Avg, 0.5)
	code, _ = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--folds", "1")
	require.Equal(t, 2, code)
	code, _ = runOut(t, "forecast", "cv", "--trajectories", filepath.Join(dir, "f0.csv"), "--ball", "foam")
	require.Equal(t, 2, code)
	code, _ = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--spin-prior", "learned")
	require.Equal(t, 2, code)
	// the flat prior: no table, a σ instead
	code, stdout = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--samples", "16", "--seed", "3", "--spin-prior", "flat", "--json")
	require.Equal(t, 0, code, stdout)
	res = forecastCV{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	for _, f := range res.Result.Folds {
		require.Zero(t, f.SpinTable)
		require.Positive(t, f.SpinPrior)
	}
}

// TestForecastCVTrains: with --train each fold trains one interpolant per inner fold of its
// training files on the other inner folds' files, calibrates the spread on the windows of
// the files each left out (never the fold's own files) and scores their mixture.
func TestForecastCVTrains(t *testing.T) {
	dir := t.TempDir()
	// 7 training files per fold: 5 or 6 per inner model, ≥ 256 training windows
	for i := 0; i < 14; i++ {
		foamFlightCSV(t, filepath.Join(dir, fmt.Sprintf("f%02d.csv", i)), uint64(20+i), nil)
	}
	code, stdout := runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--folds", "2", "--samples", "16", "--seed", "4",
		"--train", "--steps", "20", "--distill-steps", "10", "--distill-conds", "8", "--hidden", "16", "--em-steps", "4", "--json")
	require.Equal(t, 0, code, stdout)
	var res forecastCV
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.NotNil(t, res.Train)
	require.Len(t, res.Result.Folds, 2)
	for _, f := range res.Result.Folds {
		require.NotNil(t, f.Interpolant)
		require.Positive(t, f.Interpolant.Windows)
		require.Positive(t, f.CalibWindows)
		require.Positive(t, f.TrainExamples)
		require.Greater(t, f.ESRatio, 0.0)
		require.Len(t, f.Inner, 4)
		var calib []string
		for _, in := range f.Inner {
			require.NotEmpty(t, in.TrainFiles)
			require.NotEmpty(t, in.CalibFiles)
			require.Positive(t, in.Windows)
			for _, c := range in.CalibFiles {
				require.NotContains(t, in.TrainFiles, c)
			}
			for _, x := range append(append([]string{}, in.TrainFiles...), in.CalibFiles...) {
				require.Contains(t, f.TrainFiles, x)
				require.NotContains(t, f.TestFiles, x)
			}
			calib = append(calib, in.CalibFiles...)
		}
		require.ElementsMatch(t, f.TrainFiles, calib, "every training file calibrates once")
		for a := 0; a < 3; a++ {
			require.Greater(t, f.ModelSpread[a], 0.0)
		}
	}
	require.Greater(t, res.Result.Mean.ESRatio, 0.0)

	// --residual: the model learns the baseline's residual, scored the same way
	code, stdout = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--folds", "2", "--samples", "16", "--seed", "4",
		"--train", "--residual", "--steps", "20", "--distill-steps", "10", "--distill-conds", "8", "--hidden", "16", "--em-steps", "4", "--json")
	require.Equal(t, 0, code, stdout)
	res = forecastCV{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	for _, f := range res.Result.Folds {
		require.NotNil(t, f.Interpolant)
		require.Positive(t, f.Interpolant.Windows)
		require.Positive(t, f.TrainExamples)
		require.Greater(t, f.RawESRatio, 0.0)
		// an untrained-ish model around the estimate: still within centimetres of clean flights
		require.Less(t, f.Interpolant.MeanErr, 0.05)
	}
	code, _ = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--residual")
	require.Equal(t, 2, code)
	code, _ = runOut(t, "forecast", "cv", "--trajectories", dir, "--ball", "foam", "--train", "--inner-folds", "1")
	require.Equal(t, 2, code)
}
