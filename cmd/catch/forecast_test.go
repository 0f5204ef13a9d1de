package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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

	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--n", "4", "--steps", "9", "--samples", "8")
	require.Equal(t, 0, code)
	code, _ = runOut(t, "forecast", "eval", "--model", out, "--scenario", "light-ball", "--method", "flow", "--steps", "7")
	require.Equal(t, 2, code)
}
