package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
)

// catch fit ball on generated foam flights (C_d 0.5): the fit, its YAML, the split flags
// and the held-out check; bad input exits 2.
func TestFitBallCLI(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 10; i++ {
		foamFlightCSV(t, filepath.Join(dir, fmt.Sprintf("f%02d.csv", i)), uint64(i), nil)
	}
	out := filepath.Join(t.TempDir(), "foam-fit.yaml")
	base := filepath.Join(t.TempDir(), "base.yaml")
	// start from a wrong C_d and g
	require.NoError(t, os.WriteFile(base, []byte("name: foam\ndrag_coefficient: 0.8\ngravity_mps2: 9.5\n"), 0o644))
	code, stdout := runOut(t, "fit", "ball", "--trajectories", dir, "--ball", base, "--split", "tuning", "--check-split", "heldout", "--out", out, "--json")
	require.Equal(t, 0, code, stdout)
	var res fitBallOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, 8, res.Read.Files)
	require.Equal(t, "tuning", res.Selection)
	require.Len(t, res.Fit.Tracks, 8)
	// the generated flights have C_d 0.5 and g 9.80665 with 1 mm noise
	require.InDelta(t, 0.5, res.Fit.Props.Cd, 0.02)
	require.InDelta(t, ball.StandardGravity, res.Fit.Props.Gravity, 0.05)
	require.InDelta(t, 1e-3, res.Fit.RMS, 2e-4)
	require.NotNil(t, res.Check)
	require.Equal(t, 2, res.Check.Flights)
	require.Less(t, res.Check.FittedRMS, res.Check.BaseRMS)
	f, err := os.Open(out)
	require.NoError(t, err)
	p, err := ball.ParseProps(f)
	f.Close()
	require.NoError(t, err)
	require.InDelta(t, res.Fit.Props.Cd, p.Cd, 1e-6)

	// the same fit on the training side of a fold
	code, stdout = runOut(t, "fit", "ball", "--trajectories", dir, "--ball", "foam", "--not-fold", "1/5", "--json", "--fix-gravity")
	require.Equal(t, 0, code, stdout)
	res = fitBallOut{}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, 8, res.Read.Files)
	require.Zero(t, res.Fit.GStd)

	for _, args := range [][]string{
		{"fit", "ball", "--ball", "foam"},
		{"fit", "ball", "--trajectories", dir},
		{"fit", "ball", "--trajectories", dir, "--ball", "golf"},
		{"fit", "ball", "--trajectories", dir, "--ball", "foam", "--split", "test"},
		{"fit", "ball", "--trajectories", dir, "--ball", "foam", "--fold", "5/5"},
		{"fit", "ball", "--trajectories", dir, "--ball", "foam", "--fold", "x"},
		{"fit", "ball", "--trajectories", dir, "--ball", "foam", "--fold", "0/5", "--not-fold", "0/5"},
		{"fit", "ball", "--trajectories", dir, "--ball", "foam", "--out", "x.json"},
		{"fit", "ball", "--trajectories", filepath.Join(dir, "f00.csv"), "--ball", "foam", "--split", "tuning"},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, "%v", args)
	}
}
