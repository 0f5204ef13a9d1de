package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/sim/trace"
)

// TestTrialLogLatencyReplay runs a sim-over-ROS session (controller and
// simarm as separate processes on a real rosmaster, lockstep, MPC with
// synchronous planning) whose scenario sets observation latency 30 ms and
// action latency 45 ms, with the controller node's trial log on. Then:
// every throw is logged; `catch latency` recovers both latencies within
// 2 ms; `catch replay` reproduces every logged command to 1e-9.
func TestTrialLogLatencyReplay(t *testing.T) {
	dir := t.TempDir()
	nominal, err := os.ReadFile("../../sim/scenarios/nominal.yaml")
	require.NoError(t, err)
	scen := strings.NewReplacer("name: nominal", "name: latency-test", "latency_ms: 8", "latency_ms: 30",
		"action_latency_ms: 20", "action_latency_ms: 45").Replace(string(nominal))
	require.Contains(t, scen, "latency_ms: 30")
	require.Contains(t, scen, "action_latency_ms: 45")
	scenPath := filepath.Join(dir, "scenario.yaml")
	require.NoError(t, os.WriteFile(scenPath, []byte(scen), 0o644))
	logPath := filepath.Join(dir, "trials.jsonl")
	cfgPath := filepath.Join(dir, "run.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("mpc:\n  async: false # synchronous planning: an exact replay\nnode:\n  trial_log: "+logPath+"\n"), 0o644))

	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("CATCH_AS_BINARY", "1")
	t.Setenv("CATCH_NODE_BINARY", self)
	var out bytes.Buffer
	root.SetOut(&out)
	defer root.SetOut(nil)
	code := run([]string{"ros-trials", "--controller", "mpc", "--scenario", scenPath, "--config", cfgPath,
		"--trials", "3", "--seed", "1", "--pause", "0.05", "--lockstep", "--json"})
	os.Unsetenv("CATCH_AS_BINARY")
	require.Equal(t, 0, code, out.String())

	throws, st, err := triallog.ReadThrows(logPath)
	require.NoError(t, err)
	require.Len(t, throws, 3, "one line per throw")
	require.Zero(t, st.Truncated)
	for i, th := range throws {
		require.Equal(t, uint32(i), th.Seq)
		require.Equal(t, "mpc", th.Controller)
		require.Equal(t, "lockstep", th.Clock)
		require.NotEmpty(t, th.Obs)
		require.Greater(t, len(th.Ticks), 200)
		require.NotNil(t, th.Caught, "the catch sensor is logged")
		require.Contains(t, string(th.Provenance), `"command":["catch","node","controller"`, "each record carries the node's provenance")
	}

	// The trial log converts to traces of the 'catch sim --trace' form,
	// which the viewer reads.
	trDir := filepath.Join(dir, "traces")
	out.Reset()
	require.Equal(t, 0, run([]string{"trace", "--log", logPath, "--out", trDir}), out.String())
	files, err := filepath.Glob(filepath.Join(trDir, "*.csv"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	for i, th := range throws {
		tr, err := trace.Read(filepath.Join(trDir, trace.FileName("mpc", "ros-"+th.Source, 0, i)))
		require.NoError(t, err)
		require.Equal(t, trace.Header(7), tr.Header)
		require.Len(t, tr.Rows, len(th.Ticks), "one row per logged tick")
		require.True(t, tr.Complete)
		require.Equal(t, *th.Caught, tr.Result.Caught, "the catch sensor's verdict")
		valid := 0
		for r := range tr.Rows {
			require.False(t, math.IsNaN(tr.Float(r, "head_z")), "head pose from the measured joints")
			require.True(t, math.IsNaN(tr.Float(r, "ball_x")), "no ground truth in a trial log")
			if tr.String(r, "est_valid") == "1" {
				valid++
			}
		}
		require.Positive(t, valid)
	}
	out.Reset()
	require.Equal(t, 0, run([]string{"view", trDir}), out.String())

	out.Reset()
	require.Equal(t, 0, run([]string{"latency", "--log", logPath, "--json"}), out.String())
	var lat triallog.Latency
	require.NoError(t, json.Unmarshal(out.Bytes(), &lat), out.String())
	t.Logf("latency: observation %.2f ms (range %v), action %.2f ms (fit rms %.2g over %d samples)", lat.ObservationMS, lat.ObservationRangeMS, lat.ActionMS, lat.ActionRMS, lat.ActionN)
	require.InDelta(t, 30, lat.ObservationMS, 2, "acceptance: within 2 ms")
	require.InDelta(t, 45, lat.ActionMS, 2, "acceptance: within 2 ms")

	out.Reset()
	require.Equal(t, 0, run([]string{"replay", "--log", logPath, "--config", cfgPath, "--json"}), out.String())
	var reps []struct {
		Seq            uint32  `json:"seq"`
		Ticks          int     `json:"ticks"`
		MaxCmdDiff     float64 `json:"max_cmd_diff"`
		FirstDiffTick  int     `json:"first_diff_tick"`
		ModeMismatches int     `json:"mode_mismatches"`
		CodeMismatches int     `json:"code_mismatches"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &reps), out.String())
	require.Len(t, reps, 3)
	worst := 0.0
	for _, r := range reps {
		worst = math.Max(worst, r.MaxCmdDiff)
		require.LessOrEqual(t, r.MaxCmdDiff, 1e-9, "throw %d", r.Seq)
		require.Equal(t, -1, r.FirstDiffTick)
		require.Zero(t, r.ModeMismatches)
		require.Zero(t, r.CodeMismatches)
	}
	t.Logf("replay: 3 throws, %d+%d+%d ticks, max command difference %.3g", reps[0].Ticks, reps[1].Ticks, reps[2].Ticks, worst)
}
