package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/mujoco"
)

// Two engines: every pair runs in both, results.json lists the gaps, the
// report has the gap table and plot, and the other engine its trials file.
func TestBenchTwoEnginesReportsTheGap(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	dir := t.TempDir()
	r, err := Run(context.Background(), Options{
		Controllers: []string{"hold"}, Scenarios: []string{"nominal", "slow"}, Trials: 4, Seed: 2,
		Out: dir, Robot: rob, Engines: []sim.Engine{sim.Kinematic, mujoco.Engine{}},
		NewController: func(string) (control.Controller, error) { return &control.Hold{}, nil },
	})
	require.NoError(t, err)
	require.Len(t, r.Entries, 4)
	require.Equal(t, []string{"kinematic", "mujoco"}, r.Engines)
	require.Len(t, r.Gaps, 2)
	for _, g := range r.Gaps {
		require.Equal(t, "kinematic", g.Reference)
		require.Equal(t, "mujoco", g.Engine)
		ref := findEntry(r, "kinematic", g.Controller, g.Scenario)
		other := findEntry(r, "mujoco", g.Controller, g.Scenario)
		require.InDelta(t, 100*(other.SuccessRate-ref.SuccessRate), g.GapPP, 1e-9)
		require.Equal(t, ref.Catchable, other.Catchable, "same throws in both engines")
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "## Sim-to-sim gap: kinematic vs mujoco")
	require.Contains(t, string(report), "(gap.png)")
	require.Equal(t, 2, strings.Count(string(report), "| hold | nominal | mujoco |")+strings.Count(string(report), "| hold | slow | mujoco |"))
	for _, f := range []string{"gap.png", "trials.csv", "trials_mujoco.csv"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.Contains(t, string(data), `"gaps"`)
	require.Contains(t, string(data), `"engine": "mujoco"`)
}
