package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/robot"
)

func TestBenchWritesDeterministicResults(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	esLog := filepath.Join(t.TempDir(), "es.csv")
	require.NoError(t, os.WriteFile(esLog, []byte("iteration,episodes,mean_reward,success_rate\n1,100,0.1,0.2\n2,200,0.3,0.5\n"), 0o644))
	run := func(dir string, workers int) []byte {
		_, err := Run(context.Background(), Options{
			Controllers: []string{"hold", "hold2"}, Scenarios: []string{"nominal", "hand-lob"}, Trials: 6, Seed: 4,
			Out: dir, Robot: rob, Workers: workers, ESLog: esLog,
			NewController: func(string, string) (control.Controller, error) { return &control.Hold{}, nil },
		})
		require.NoError(t, err)
		data, err := os.ReadFile(filepath.Join(dir, "results.json"))
		require.NoError(t, err)
		return data
	}
	a := t.TempDir()
	ra := run(a, 1)
	rb := run(t.TempDir(), 3)
	require.Equal(t, string(ra), string(rb), "same seed, same results.json, whatever the parallelism")
	for _, key := range []string{`"success_rate"`, `"ci95"`, `"success_by_yaw_deg"`, `"success_by_speed_mps"`, `"modality"`, `"limit_violations"`, `"miss_distance_m"`} {
		require.Contains(t, string(ra), key)
	}
	timing, err := os.ReadFile(filepath.Join(a, "timing.json"))
	require.NoError(t, err)
	require.Contains(t, string(timing), `"compute_ms"`)
	pngs, err := filepath.Glob(filepath.Join(a, "*.png"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(pngs), 5)
	report, err := os.ReadFile(filepath.Join(a, "report.md"))
	require.NoError(t, err)
	for _, p := range pngs {
		require.Contains(t, string(report), "("+filepath.Base(p)+")", "every plot is inlined in the report")
	}
	require.Equal(t, 4+2, strings.Count(Table(mustRead(t, a)), "\n"), "header, rule and one row per pair")
}

func mustRead(t *testing.T, dir string) *Results {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	var r Results
	require.NoError(t, jsonUnmarshal(data, &r))
	return &r
}

func TestBenchBadInput(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	f := func(string, string) (control.Controller, error) { return &control.Hold{}, nil }
	_, err = Run(context.Background(), Options{Controllers: []string{"hold"}, Scenarios: []string{"nope"}, Trials: 1, Out: t.TempDir(), Robot: rob, NewController: f})
	require.ErrorContains(t, err, "unknown scenario")
	_, err = Run(context.Background(), Options{Controllers: []string{"hold"}, Scenarios: []string{"nominal"}, Trials: 0, Out: t.TempDir(), Robot: rob, NewController: f})
	require.ErrorContains(t, err, "trials")
	_, err = Run(context.Background(), Options{Controllers: []string{"hold"}, Scenarios: []string{"nominal"}, Trials: 1, Out: t.TempDir(), Robot: rob, NewController: f, ESLog: "/nonexistent.csv"})
	require.ErrorContains(t, err, "es-log")
}

// The yaw and speed bins of every pair hold every catchable throw (hand
// lobs used to be logged near −350° and fell outside the yaw bins), the
// report's tables and trials.csv agree with results.json, and every output
// carries the run's provenance.
func TestBinsCoverEveryCatchableThrowAndOutputsCarryProvenance(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	dir := t.TempDir()
	prov := provenance.New([]string{"catch", "bench", "--seed", "2"}, provenance.HashConfig([]byte("x")), 2)
	res, err := Run(context.Background(), Options{
		Controllers: []string{"hold"}, Scenarios: []string{"nominal", "hand-lob"}, Trials: 40, Seed: 2,
		Out: dir, Robot: rob, Provenance: prov,
		NewController: func(string, string) (control.Controller, error) { return &control.Hold{}, nil },
	})
	require.NoError(t, err)
	for _, e := range res.Entries {
		require.Positive(t, e.Catchable, e.Scenario)
		for name, bs := range map[string][]Bin{"yaw": e.ByYaw, "speed": e.BySpeed} {
			n := 0
			for _, b := range bs {
				n += b.Catchable
			}
			require.Equal(t, e.Catchable, n, "%s bins of %s hold every catchable throw", name, e.Scenario)
		}
		for _, b := range e.ByYaw {
			require.Less(t, math.Abs(b.Center), 60.0, "%s yaw bins are headings near 0", e.Scenario)
		}
		failed := 0
		for _, k := range e.Failures {
			failed += k
		}
		require.Equal(t, e.Trials-e.Caught-e.CaughtUncatchable, failed, "every miss has a reason")
	}
	data, err := os.ReadFile(filepath.Join(dir, "trials.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 1+1+2*40, "provenance, header, one row per trial")
	require.True(t, strings.HasPrefix(lines[0], "# provenance: "))
	require.Equal(t, strings.Join(TrialColumns, ","), lines[1])
	for _, f := range []string{"results.json", "timing.json"} {
		js, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Contains(t, string(js), `"config_sha256": "`+prov.ConfigSHA256+`"`, f)
	}
	pngs, err := filepath.Glob(filepath.Join(dir, "*.png"))
	require.NoError(t, err)
	require.NotEmpty(t, pngs)
	for _, p := range pngs {
		got, err := provenance.ReadPNG(p)
		require.NoError(t, err, p)
		require.Equal(t, prov.Command, got.Command)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, want := range []string{"How this differs from the paper", "Why throws were missed", "steps over the 4 ms tick",
		"success_vs_yaw_hand-lob.png", "trials_3d_nominal.png", "trials_3d_hand-lob.png", "Provenance: "} {
		require.Contains(t, string(report), want)
	}
}
