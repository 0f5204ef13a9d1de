package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/sim"
)

// TestSimComputeModel: --compute-model fitted charges the MPC's steps
// (sync plans delay their commands; the run stays deterministic), and is
// refused for a controller without a model.
func TestSimComputeModel(t *testing.T) {
	args := []string{"sim", "--controller", "mpc", "--scenario", "nominal", "--trials", "3", "--seed", "2", "--json", "--compute-model", "fitted"}
	code, out := runOut(t, args...)
	require.Equal(t, 0, code, out)
	var a, b sim.Summary
	require.NoError(t, json.Unmarshal([]byte(out), &a))
	code, out = runOut(t, append(args, "--async")...)
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &b))
	require.Equal(t, 3, a.Trials)
	require.Equal(t, 3, b.Trials)
	code, again := runOut(t, append(args, "--async")...)
	require.Equal(t, 0, code)
	var c sim.Summary
	require.NoError(t, json.Unmarshal([]byte(again), &c))
	require.Equal(t, b.Caught, c.Caught, "async on the modelled clock is deterministic")
	require.Equal(t, b.MissDistanceM, c.MissDistanceM)

	code, _ = runOut(t, "sim", "--controller", "hold", "--trials", "1", "--compute-model", "fitted")
	require.Equal(t, 2, code)
	code, _ = runOut(t, "sim", "--controller", "mpc", "--trials", "1", "--compute-model", "measured")
	require.Equal(t, 2, code)
}

func TestLoopBenchHog(t *testing.T) {
	code, out := runOut(t, "loop-bench", "--seconds", "0.3", "--hog", "1", "--json")
	require.Equal(t, 0, code, out)
	var lb loopBench
	require.NoError(t, json.Unmarshal([]byte(out), &lb))
	require.Equal(t, 1, lb.Hog)
	require.Positive(t, lb.Ticks)
	require.Positive(t, lb.NumCPU)
	code, _ = runOut(t, "loop-bench", "--seconds", "0.1", "--hog", "-1")
	require.Equal(t, 2, code)
}
