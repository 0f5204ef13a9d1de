package light

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hs21 is HS21 from the Maros–Meszaros set: optimum −99.96 with r = −100.
const hs21 = `{"name": "HS21", "n": 2, "m": 3,
 "P": {"rows": [0, 1], "cols": [0, 1], "vals": [0.02, 2.0], "shape": [2, 2]}, "q": [0.0, 0.0], "r": -100.0,
 "A": {"rows": [0, 1, 0, 2], "cols": [0, 0, 1, 1], "vals": [10.0, 1.0, -1.0, 1.0], "shape": [3, 2]},
 "l": [10.0, 2.0, -50.0], "u": [1e+20, 50.0, 50.0], "optimal_objective_osqp_benchmarks": -99.96}`

// runOut runs a fresh command tree with the light subcommands (fresh, so no
// flag value carries over from an earlier run) and returns the exit status
// and what the command printed on stdout and stderr.
func runOut(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := NewRoot("test")
	root.AddCommand(Kin(), QP())
	var out bytes.Buffer
	root.SetOut(&out)
	code := Run(root, args, &out)
	return code, out.String()
}

func TestQPSolve(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "hs21.json")
	require.NoError(t, os.WriteFile(good, []byte(hs21), 0o600))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"n": 2, "m": 0}`), 0o600))

	// Flags are passed explicitly in every call: cobra keeps flag values
	// between executions of the same command tree.
	code, out := runOut(t, "qp", "solve", "--json=true", "--max-iter", "4000", "--eps-abs", "1e-6",
		"--eps-rel", "1e-6", "--time-limit", "10s", good)
	require.Equal(t, 0, code, out)
	var res struct {
		Status     string    `json:"status"`
		Objective  float64   `json:"objective"`
		X          []float64 `json:"x"`
		Iterations int       `json:"iterations"`
		SolveMS    float64   `json:"solve_ms"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, "solved", res.Status)
	require.InDelta(t, -99.96, res.Objective, 1e-6) // polished: exact to rounding
	require.InDeltaSlice(t, []float64{2, 0}, res.X, 1e-6)
	require.Positive(t, res.Iterations)
	require.GreaterOrEqual(t, res.SolveMS, 0.0)

	for _, m := range []string{"admm", "ipm", "auto"} {
		code, out = runOut(t, "qp", "solve", "--json=true", "--method", m, "--max-iter", "0",
			"--eps-abs", "0", "--eps-rel", "0", "--time-limit", "0", good)
		require.Equal(t, 0, code, out)
		var r struct {
			Status    string  `json:"status"`
			Objective float64 `json:"objective"`
			Method    string  `json:"method"`
			IPMIters  int     `json:"ipm_iterations"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &r), m)
		require.Equal(t, "solved", r.Status, m)
		require.InDelta(t, -99.96, r.Objective, 1e-6, m) // polished in every method
		if m == "ipm" {
			require.Equal(t, "ipm", r.Method)
			require.Positive(t, r.IPMIters)
		} else {
			require.Equal(t, "admm", r.Method, m) // HS21 needs no fallback
		}
	}

	code, out = runOut(t, "qp", "solve", "--json=false", "--method", "auto", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, "status      solved")
	require.Contains(t, out, "reference   -99.96")

	for _, c := range []struct {
		name string
		args []string
	}{
		{"missing file", []string{"qp", "solve", filepath.Join(dir, "nope.json")}},
		{"malformed file", []string{"qp", "solve", bad}},
		{"no argument", []string{"qp", "solve"}},
		{"bad flag", []string{"qp", "solve", "--eps-abs", "x", good}},
		{"bad method", []string{"qp", "solve", "--method", "simplex", good}},
	} {
		code, _ := runOut(t, c.args...)
		require.Equal(t, 2, code, c.name)
	}
}

func TestQPBench(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hs21.json"), []byte(hs21), 0o600))
	code, out := runOut(t, "qp", "bench", "--json=true", "--method", "admm", "--eps", "1e-4",
		"--time-limit", "10s", "--max-size", "0", dir)
	require.Equal(t, 0, code, out)
	dec := json.NewDecoder(bytes.NewBufferString(out))
	var line qpBenchLine
	require.NoError(t, dec.Decode(&line))
	require.Equal(t, "HS21", line.Name)
	require.Equal(t, "solved", line.Status)
	require.True(t, line.CheckMet)
	require.False(t, line.False)
	require.NotNil(t, line.RelErr)
	require.Less(t, *line.RelErr, 1e-6)
	var sum qpBenchSummary
	require.NoError(t, dec.Decode(&sum))
	require.Equal(t, 1, sum.Problems)
	require.Empty(t, sum.FalseSolved)
	require.Equal(t, 1, sum.Reached)

	code, _ = runOut(t, "qp", "bench", "--json=false", "--method", "admm", "--eps", "0", dir)
	require.Equal(t, 2, code)
	code, _ = runOut(t, "qp", "bench", "--json=false", "--method", "newton", "--eps", "1e-4", dir)
	require.Equal(t, 2, code)
}

// TestQPSolveTimeLimitCoversSetup: --time-limit bounds reading, validation
// and setup as well as the solve. A 1500-variable dense problem takes far
// longer than 1 ms to validate and factor (its P alone is 2.25 M entries);
// the result is status time_limit, stopped in setup, exit 0 (the old code
// ran the whole setup first, whatever the limit: minutes for 16000²).
func TestQPSolveTimeLimitCoversSetup(t *testing.T) {
	const n = 1500
	var rows, vals []string
	for i := 0; i < n; i++ {
		rows = append(rows, strconv.Itoa(i))
		vals = append(vals, "1")
	}
	idx := strings.Join(rows, ",")
	js := fmt.Sprintf(`{"n": %d, "m": 0, "P": {"rows": [%s], "cols": [%s], "vals": [%s], "shape": [%d, %d]}, "q": [%s], "r": 0,
		"A": {"rows": [], "cols": [], "vals": [], "shape": [0, %d]}, "l": [], "u": []}`, n, idx, idx, strings.Join(vals, ","), n, n, strings.Join(vals, ","), n)
	path := filepath.Join(t.TempDir(), "big.json")
	require.NoError(t, os.WriteFile(path, []byte(js), 0o600))
	// Dense storage: the sparse path sets this diagonal problem up in about 1 ms.
	code, out := runOut(t, "qp", "solve", "--json", "--linear", "dense", "--time-limit", "1ms", path)
	require.Equal(t, 0, code, out)
	var res struct {
		Status    string `json:"status"`
		StoppedIn string `json:"stopped_in"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, "time_limit", res.Status)
	require.Equal(t, "setup", res.StoppedIn)

	// The same problem with time to spare is solved (x = −1 for P = I, q = 1).
	code, out = runOut(t, "qp", "solve", "--json", "--linear", "auto", "--time-limit", "0", path)
	require.Equal(t, 0, code, out)
	res.StoppedIn = ""
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, "solved", res.Status)
	require.Empty(t, res.StoppedIn)
}
