package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/sim"
)

// runOut runs the CLI in-process and returns the exit status and stdout.
func runOut(t *testing.T, args ...string) (int, string) {
	t.Helper()
	resetFlags(root)
	var out bytes.Buffer
	root.SetOut(&out)
	defer root.SetOut(nil)
	code := run(args)
	return code, out.String()
}

// resetFlags puts every flag back to its default, since cobra keeps values
// between in-process runs.
func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			_ = sv.Replace(nil)
		} else {
			_ = f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, sub := range c.Commands() {
		resetFlags(sub)
	}
}

func TestSimJSON(t *testing.T) {
	log := filepath.Join(t.TempDir(), "trials.jsonl")
	code, out := runOut(t, "sim", "--controller", "hold", "--scenario", "nominal", "--trials", "6", "--seed", "3", "--json", "--log", log)
	require.Equal(t, 0, code)
	var s sim.Summary
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	require.Equal(t, "hold", s.Controller)
	require.Equal(t, 6, s.Trials)
	require.Zero(t, s.Caught)
	require.Zero(t, s.LimitViolations)
	for _, key := range []string{"controller", "scenario", "fidelity", "seed", "trials", "catchable", "caught", "success_rate", "ci95", "limit_violations", "modality", "compute_ms", "miss_distance_m"} {
		require.Contains(t, out, `"`+key+`"`)
	}
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	require.Len(t, lines, 6)
	for i, l := range lines {
		var r struct {
			sim.TrialResult
			Controller string            `json:"controller"`
			Seed       uint64            `json:"seed"`
			Provenance provenance.Record `json:"provenance"`
		}
		require.NoError(t, json.Unmarshal(l, &r))
		require.Equal(t, "nominal", r.Scenario)
		require.Equal(t, i, r.Index, "lines in trial order")
		require.Equal(t, "hold", r.Controller)
		require.Equal(t, uint64(3), r.Seed)
		require.Len(t, r.Provenance.ConfigSHA256, 64)
		require.Equal(t, []string{"catch", "sim", "--controller", "hold"}, r.Provenance.Command[:4])
	}
}

func TestVersionAndDefaults(t *testing.T) {
	code, out := runOut(t, "--version")
	require.Equal(t, 0, code)
	require.Regexp(t, `^\S+ \S+ .*go1\.`, out)
	require.Equal(t, 1, strings.Count(out, "\n"), "one line")
	require.Equal(t, "mpc", root.Commands()[slices.IndexFunc(root.Commands(), func(c *cobra.Command) bool { return c.Name() == "sim" })].Flag("controller").DefValue,
		"catch sim without --controller runs the MPC, not the hold baseline")
}

// Off a terminal, long runs still report progress on stderr, as lines.
func TestProgressOffTerminal(t *testing.T) {
	var errBuf bytes.Buffer
	root.SetErr(&errBuf)
	defer root.SetErr(nil)
	code, _ := runOut(t, "sim", "--controller", "hold", "--trials", "20", "--seed", "1")
	require.Equal(t, 0, code)
	require.Contains(t, errBuf.String(), "hold/nominal: 2/20 trials\n")
	require.Contains(t, errBuf.String(), "hold/nominal: 20/20 trials\n")
	require.LessOrEqual(t, strings.Count(errBuf.String(), "\n"), 10, "at most one line per tenth")
}

func TestThrowsJSON(t *testing.T) {
	code, out := runOut(t, "throws", "--scenario", "slow", "--n", "50", "--seed", "7", "--json")
	require.Equal(t, 0, code)
	var st sim.ThrowStats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, 50, st.N)
	require.InDelta(t, 4.1, st.HorizontalSpeed.Mean, 0.05)
}

func TestBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	badScenario := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badScenario, []byte("name: x\nmode: catapult\n"), 0o644))
	badConfig := filepath.Join(dir, "cfg.yaml")
	require.NoError(t, os.WriteFile(badConfig, []byte("sim:\n  not_a_field: 1\n"), 0o644))
	badRate := filepath.Join(dir, "rate.yaml")
	require.NoError(t, os.WriteFile(badRate, []byte("sim:\n  control_rate_hz: 333\n"), 0o644))
	cases := [][]string{
		{"sim", "--no-such-flag"},
		{"sim", "--scenario", "nope", "--trials", "1"},
		{"sim", "--controller", "nope", "--trials", "1"},
		{"sim", "--scenario", badScenario, "--trials", "1"},
		{"sim", "--scenario", filepath.Join(dir, "missing.yaml"), "--trials", "1"},
		{"sim", "--config", badConfig, "--trials", "1"},
		{"sim", "--config", badRate, "--controller", "hold", "--trials", "1"},
		{"bench", "--config", badRate, "--controllers", "hold", "--scenarios", "nominal", "--trials", "1", "--out", dir},
		{"sim", "--controller", "es", "--forecast", "physics", "--trials", "1"},
		{"--no-such-flag"},
		{"sim", "--config", filepath.Join(dir, "missing.yaml"), "--trials", "1"},
		{"sim", "--trials", "0"},
		{"sim", "--trials", "x"},
		{"sim", "--fidelity", "holodeck", "--trials", "1"},
		{"sim", "extra-arg"},
		{"throws", "--n", "-1"},
		{"no-such-command"},
		{"ros-trials", "--engine", "bullet", "--trials", "1"},
		{"node", "simarm", "--engine", "bullet", "--trials", "1"},
		{"sim", "--engine", "bullet", "--trials", "1"},
	}
	for _, args := range cases {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, "args %q", args)
	}
}

// `catch sim --trace` writes one trace per trial; the MPC's rows carry its
// active plan.
func TestSimTrace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces")
	code, _ := runOut(t, "sim", "--controller", "mpc", "--trials", "2", "--seed", "5", "--trace", dir)
	require.Equal(t, 0, code)
	files, err := filepath.Glob(filepath.Join(dir, "mpc_nominal_s5_t*.csv"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	header := strings.Split(lines[2], ",")
	k := slices.Index(header, "plan_n")
	require.Positive(t, k)
	planned := 0
	for _, l := range lines[3:] {
		if c := strings.Split(l, ","); len(c) == len(header) && c[k] != "0" {
			planned++
		}
	}
	require.Positive(t, planned, "the MPC's plan knots are traced")
}

// TestSimLogAppendOnly: `sim --log` records carry the run id, controller
// and seed; a torn last line left by a killed run is cut before the next
// run appends (the old code glued two records into one invalid line); a
// file that is not a sim trial log is refused with exit 2 and left as it
// was (the old code appended to anything).
func TestSimLogAppendOnly(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "trials.jsonl")
	code, _ := runOut(t, "sim", "--controller", "hold", "--trials", "2", "--seed", "3", "--json", "--log", log)
	require.Equal(t, 0, code)
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"run":"torn","controller":"hold","seed":3,"trial":`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	code, _ = runOut(t, "sim", "--controller", "hold", "--trials", "2", "--seed", "4", "--json", "--log", log)
	require.Equal(t, 0, code)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	require.Len(t, lines, 4, "the torn line is gone, four whole records")
	var recs []sim.LogRecord
	for _, l := range lines {
		var r sim.LogRecord
		require.NoError(t, json.Unmarshal(l, &r), "every line is one record: %s", l)
		require.Equal(t, "hold", r.Controller)
		require.NotEmpty(t, r.Run)
		recs = append(recs, r)
	}
	require.Equal(t, []uint64{3, 3, 4, 4}, []uint64{recs[0].Seed, recs[1].Seed, recs[2].Seed, recs[3].Seed})
	require.Equal(t, recs[0].Run, recs[1].Run)
	require.NotEqual(t, recs[1].Run, recs[2].Run, "each run has its own id")

	binary := make([]byte, 4986)
	for i := range binary {
		binary[i] = byte(i*7 + i/13)
	}
	bin := filepath.Join(dir, "model.bin")
	require.NoError(t, os.WriteFile(bin, binary, 0o644))
	code, _ = runOut(t, "sim", "--controller", "hold", "--trials", "1", "--log", bin)
	require.Equal(t, 2, code)
	got, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.Equal(t, binary, got, "a file that is not a trial log is never touched")
}

// TestCountFlagsBounded: counts that size memory are checked when the
// command line is parsed: one line naming the flag and the range, exit 2,
// nothing allocated (the old code went on to Go's out-of-memory crash for
// --forecast-samples 1e8 and throws --n 2e9).
func TestCountFlagsBounded(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"sim", "--forecast", "physics", "--controller", "mpc", "--forecast-samples", "100000000", "--trials", "1"}, "--forecast-samples"},
		{[]string{"sim", "--forecast-samples", "1e8", "--trials", "1"}, "--forecast-samples"},
		{[]string{"throws", "--n", "2000000000"}, "--n"},
		{[]string{"throws", "--n", "2e9"}, "--n"},
		{[]string{"sim", "--trials", "2e9"}, "--trials"},
		{[]string{"ros-trials", "--trials", "99999999999"}, "--trials"},
		{[]string{"train", "forecast", "--episodes", "1e12", "--scenario", "nominal", "--out", "x.onnx"}, "--episodes"},
	} {
		code, stderr := runErr(t, tc.args...)
		require.Equal(t, 2, code, "%q", tc.args)
		require.Contains(t, stderr, tc.flag, "%q", tc.args)
		require.Contains(t, stderr, "out of range", "%q", tc.args)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
	}
	code, out := runOut(t, "throws", "--n", "1e2", "--json")
	require.Equal(t, 0, code, "an integral float is a count")
	require.Contains(t, out, `"n": 100`)
}
