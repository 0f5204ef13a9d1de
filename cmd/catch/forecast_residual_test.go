package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTrainForecastResidual: `catch train forecast --residual` writes the members and the
// manifest; `catch forecast eval` scores the loaded ensemble against the calibrated
// baseline on other files; a missing member exits 2 naming it; bad flags exit 2.
func TestTrainForecastResidual(t *testing.T) {
	train, test := t.TempDir(), t.TempDir()
	for i := 0; i < 6; i++ {
		foamFlightCSV(t, filepath.Join(train, fmt.Sprintf("f%d.csv", i)), uint64(i), nil)
	}
	for i := 0; i < 2; i++ {
		foamFlightCSV(t, filepath.Join(test, fmt.Sprintf("g%d.csv", i)), uint64(20+i), nil)
	}
	out := filepath.Join(t.TempDir(), "res.onnx")
	args := []string{"train", "forecast", "--trajectories", train, "--ball", "foam", "--residual", "--inner-folds", "3", "--out", out,
		"--hidden", "16", "--steps", "20", "--distill-steps", "10", "--distill-conds", "8", "--em-steps", "4", "--seed", "3"}
	code, stdout := runOut(t, args...)
	require.Equal(t, 0, code, stdout)
	man := filepath.Join(filepath.Dir(out), "res.residual.json")
	require.Contains(t, stdout, "wrote "+man)
	for j := 0; j < 3; j++ {
		require.FileExists(t, filepath.Join(filepath.Dir(out), fmt.Sprintf("res.%d.onnx", j)))
	}
	var m struct {
		Members    []string        `json:"members"`
		TrainFiles []string        `json:"train_files"`
		Build      json.RawMessage `json:"build"`
	}
	data, err := os.ReadFile(man)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, []string{"res.0.onnx", "res.1.onnx", "res.2.onnx"}, m.Members)
	require.Len(t, m.TrainFiles, 6)
	require.Contains(t, string(m.Build), "seed")

	eval := []string{"forecast", "eval", "--model", man, "--trajectories", test, "--samples", "16", "--seed", "4"}
	code, stdout = runOut(t, append(eval, "--json")...)
	require.Equal(t, 0, code, stdout)
	var res residualEvalOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Positive(t, res.Common)
	require.Empty(t, res.Overlap)
	require.Equal(t, res.Common, res.Scores.Windows)
	require.Equal(t, res.Common, res.Physics.Windows)
	require.InDelta(t, res.Scores.EnergyScore/res.Physics.EnergyScore, res.ESRatio, 1e-12)
	require.False(t, math.IsNaN(res.ESRatio) || math.IsInf(res.ESRatio, 0))
	// the same run again gives the same numbers (seeded)
	code, stdout2 := runOut(t, append(eval, "--json")...)
	require.Equal(t, 0, code)
	var res2 residualEvalOut
	require.NoError(t, json.Unmarshal([]byte(stdout2), &res2))
	require.Equal(t, res.ESRatio, res2.ESRatio)
	// scored on its own training files: flagged as not held out
	code, stdout = runOut(t, "forecast", "eval", "--model", man, "--trajectories", train, "--samples", "16", "--json")
	require.Equal(t, 0, code, stdout)
	require.NoError(t, json.Unmarshal([]byte(stdout), &res2))
	require.Len(t, res2.Overlap, 6)

	// bad input: exit 2
	require.NoError(t, os.Remove(filepath.Join(filepath.Dir(out), "res.2.onnx")))
	code, _ = runOut(t, eval...)
	require.Equal(t, 2, code)
	for _, bad := range [][]string{
		{"forecast", "eval", "--model", man},                                              // no recordings
		{"forecast", "eval", "--model", man, "--scenario", "tennis-nominal"},              // not for simulated throws
		{"train", "forecast", "--scenario", "tennis-nominal", "--residual", "--out", out}, // residual needs recordings
		{"train", "forecast", "--trajectories", train, "--residual", "--out", out},        // recordings need --ball
		append(args[:len(args):len(args)], "--spin-prior", "peaked"),
	} {
		code, _ = runOut(t, bad...)
		require.Equal(t, 2, code, "%v", bad)
	}
}

// TestRecordedBall: a command reading recordings names the ball sets when --ball is
// missing, and loads a named set.
func TestRecordedBall(t *testing.T) {
	_, err := recordedBall("")
	require.ErrorContains(t, err, "--trajectories needs --ball (one of ")
	require.ErrorContains(t, err, "table-tennis")
	p, err := recordedBall("table-tennis")
	require.NoError(t, err)
	require.Equal(t, "table-tennis", p.Name)
}
