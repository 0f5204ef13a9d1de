package trace

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// readTrace parses a trace file with a plain CSV reader, as a user's tool
// would, and returns its comment lines and rows.
func readTrace(t *testing.T, path string) (comments []string, header []string, rows [][]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "# ") {
			comments = append(comments, l)
		}
	}
	r := csv.NewReader(strings.NewReader(string(data)))
	r.Comment = '#'
	all, err := r.ReadAll()
	require.NoError(t, err, "every row has the header's number of columns")
	return comments, all[0], all[1:]
}

func TestSimTracesOneFilePerTrialAtTheControlRate(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	dir := t.TempDir()
	prov := provenance.New([]string{"catch", "sim"}, provenance.HashConfig(nil), 9)
	sum, res, err := sim.Run(context.Background(), sim.RunOptions{
		Scenario: sc, Robot: rob, Trials: 3, Seed: 9, Workers: 2,
		NewController: func() (control.Controller, error) { return &control.Hold{}, nil },
		NewTracer: func() (sim.Tracer, error) {
			return &Writer{Dir: dir, Controller: "hold", Seed: 9, RateHz: 250, Provenance: prov}, nil
		},
	})
	require.NoError(t, err)
	require.Equal(t, 3, sum.Trials)
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	for i := range res {
		comments, header, rows := readTrace(t, filepath.Join(dir, FileName("hold", "nominal", 9, i)))
		require.Equal(t, Header(7), header)
		require.Len(t, rows, res[i].Steps, "one row per control tick")
		require.Len(t, comments, 3)
		require.True(t, strings.HasPrefix(comments[0], "# provenance: "))
		var info TrialInfo
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(comments[1], "# trial: ")), &info))
		require.Equal(t, i, info.Trial)
		require.Equal(t, res[i].Release, info.Release)
		var got sim.TrialResult
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(comments[2], "# result: ")), &got))
		require.Equal(t, res[i].MissDistanceM, got.MissDistanceM)
		require.Equal(t, res[i].FailureReason(), got.Failure)

		col := map[string]int{}
		for k, h := range header {
			col[h] = k
		}
		num := func(r []string, name string) float64 {
			v, err := strconv.ParseFloat(r[col[name]], 64)
			require.NoError(t, err, name)
			return v
		}
		// 250 Hz rows; the true ball starts at the release point.
		require.InDelta(t, 0.004, num(rows[1], "t")-num(rows[0], "t"), 1e-9)
		require.InDelta(t, res[i].Release.P[0], num(rows[0], "ball_x"), 1e-5)
		require.Equal(t, "start", rows[0][col["event"]])
		// The estimate becomes valid once observations arrive, with a
		// positive variance.
		valid := 0
		for _, r := range rows {
			if r[col["est_valid"]] == "1" {
				valid++
				require.Positive(t, num(r, "est_cov_x_x"))
			}
		}
		require.Greater(t, valid, len(rows)/2)
		// Hold never plans and never moves: no plan knots, commands equal
		// the ready pose.
		require.Equal(t, "0", rows[len(rows)-1][col["plan_n"]])
		require.InDelta(t, sim.DefaultReadyQ[5], num(rows[len(rows)-1], "cmd_q5"), 1e-9)
	}
}

func TestReadBack(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	sc, err := sim.Lookup("hand-lob")
	require.NoError(t, err)
	dir := t.TempDir()
	_, res, err := sim.Run(context.Background(), sim.RunOptions{
		Scenario: sc, Robot: rob, Trials: 1, Seed: 2, Workers: 1,
		NewController: func() (control.Controller, error) { return &control.Hold{}, nil },
		NewTracer:     func() (sim.Tracer, error) { return &Writer{Dir: dir, Controller: "hold", Seed: 2, RateHz: 250}, nil },
	})
	require.NoError(t, err)
	tr, err := Read(filepath.Join(dir, FileName("hold", "hand-lob", 2, 0)))
	require.NoError(t, err)
	require.True(t, tr.Complete)
	require.Equal(t, 7, tr.Info.DOF)
	require.Equal(t, "hand-lob", tr.Info.Scenario)
	require.Len(t, tr.Rows, res[0].Steps)
	require.InDelta(t, res[0].Release.P[2], tr.Float(0, "ball_z"), 1e-5)
	require.True(t, isNaN(tr.Float(0, "plan0_x")), "empty cells read as NaN")
	require.Equal(t, "start", tr.String(0, "event"))
	_, err = Read(filepath.Join(dir, "missing.csv"))
	require.Error(t, err)
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("a,b\n1,2\n"), 0o644))
	_, err = Read(bad)
	require.ErrorContains(t, err, "not a trace")
}

func isNaN(v float64) bool { return v != v }

func TestFromTrialLogBadInput(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	_, err = FromTrialLog(&triallog.Throw{Joints: []string{"a"}}, rob, t.TempDir(), provenance.Record{})
	require.ErrorContains(t, err, "1 joints in the log, the robot has 7")
	_, err = FromTrialLog(&triallog.Throw{Joints: rob.Chain.JointNames()}, rob, t.TempDir(), provenance.Record{})
	require.ErrorContains(t, err, "no ticks")
}
