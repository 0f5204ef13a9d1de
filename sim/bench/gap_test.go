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
	"github.com/agilecatch/catch/sim/trace"
)

// Two engines: every pair runs in both, results.json lists the gaps, the
// report has the gap table and plot, and the other engine its trials file.
func TestBenchTwoEnginesReportsTheGap(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	dir := t.TempDir()
	traces := filepath.Join(dir, "traces")
	r, err := Run(context.Background(), Options{
		Controllers: []string{"hold"}, Scenarios: []string{"nominal", "slow"}, Trials: 4, Seed: 2,
		Out: dir, Robot: rob, Engines: []sim.Engine{sim.Kinematic, mujoco.Engine{}}, TraceDir: traces,
		NewController: func(string, string) (control.Controller, error) { return &control.Hold{}, nil },
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
	require.Contains(t, string(report), "## Limit violations by kind")
	require.Contains(t, string(report), "| hold | slow | mujoco | 0 | 0 | 0 (0 / 0 / 0 / 0 / 0 / 0) | 0 | 0 (0 / 0; 0; 0) | — | 0 / 0 / 0 |")
	// Held still, the arm sends nothing beyond a limit and touches
	// nothing; any torque saturation is the servos holding against the
	// ball's impact on the head.
	for _, e := range r.Entries {
		v := e.ViolationKinds
		require.Zero(t, v.Commands)
		require.Zero(t, v.InfeasibleCommands)
		require.Zero(t, v.SelfCollision+v.RailCollision+v.FloorCollision)
		require.Equal(t, v.SaturatedSteps, v.SaturatedByBall, "%s %s: %+v", e.Engine, e.Scenario, v)
	}
	nom := findEntry(r, "mujoco", "hold", "nominal")
	require.Positive(t, nom.ViolationKinds.SaturatedByBall, "a nominal ball of seed 2 strikes the held head hard enough to saturate the wrist")
	// One row per pair in the gap table and one in the mujoco violation table.
	require.Equal(t, 4, strings.Count(string(report), "| hold | nominal | mujoco |")+strings.Count(string(report), "| hold | slow | mujoco |"))
	for _, f := range []string{"gap.png", "trials.csv", "trials_mujoco.csv"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.Contains(t, string(data), `"gaps"`)
	require.Contains(t, string(data), `"engine": "mujoco"`)

	// --trace: one file per trial of every pair in every engine, none
	// overwritten by another engine's trial of the same throw.
	files, err := filepath.Glob(filepath.Join(traces, "*.csv"))
	require.NoError(t, err)
	require.Len(t, files, 2*2*4, "controllers × scenarios × engines × trials")
	for _, e := range []string{"kinematic", "mujoco"} {
		for _, sc := range []string{"nominal", "slow"} {
			for i := range 4 {
				tr, err := trace.Read(filepath.Join(traces, trace.EngineFileName("hold", sc, e, 2, i)))
				require.NoError(t, err)
				require.Equal(t, e, tr.Result.Engine)
				require.Equal(t, e, tr.Info.Engine)
			}
		}
	}
}
