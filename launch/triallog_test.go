package launch

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// TestRecorderResentRearm: a re-arm re-sent for the same throw before any
// observation (the sender saw no acknowledgement in time) must not leave a
// second, empty record of that throw; a re-arm for the next throw starts a
// new one.
func TestRecorderResentRearm(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	const period = 0.004
	safety, err := control.NewSafety(control.SafetyConfig{}, rob, period)
	require.NoError(t, err)
	q := append([]float64(nil), sim.DefaultReadyQ...)
	arm := control.NewMirrorArm(q, 0)
	clock := control.NewSimClock(true)
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	w, err := triallog.Open(path, triallog.Options{NoSync: true})
	require.NoError(t, err)
	joints := rob.Chain.JointNames()
	rec := NewRecorder(arm, clock, w, triallog.Throw{Source: "ros", Controller: "hold", Clock: "lockstep",
		PeriodNS: int64(period * 1e9), Joints: joints, Ball: "tennis"}, nil)
	loop, err := control.NewLoop(control.LoopConfig{}, clock, rec, &control.Hold{}, nil, safety, nil)
	require.NoError(t, err)
	rec.SetLoop(loop)

	cmd := control.NewCommand(len(q))
	var st control.ArmState
	st.Q, st.Qd = make([]float64, len(q)), make([]float64, len(q))
	tick := func(n int) {
		for i := 0; i < n; i++ {
			clock.Advance(time.Duration(period * float64(time.Second)))
			rec.ReadState(&st)
			copy(cmd.Q, st.Q)
			rec.WriteCommand(clock.Now(), &cmd)
		}
	}
	tick(2)
	rec.Rearm(0, clock.Now()+time.Second)
	tick(3)
	rec.Rearm(0, clock.Now()+time.Second) // re-sent: same throw
	tick(3)
	rec.Observe(clock.Now(), [3]float64{3, 0, 1})
	tick(3)
	rec.Rearm(1, clock.Now()+time.Second)
	tick(3)
	require.NoError(t, rec.Close())

	throws, _, err := triallog.ReadThrows(path)
	require.NoError(t, err)
	require.Len(t, throws, 2, "one record per throw")
	require.Equal(t, uint32(0), throws[0].Seq)
	require.Len(t, throws[0].Obs, 1)
	require.Len(t, throws[0].Ticks, 9, "the record goes on over the re-sent re-arm")
	for k, tk := range throws[0].Ticks {
		if k == 3 {
			require.Equal(t, throws[0].EpochNS+3*int64(period*1e9), tk.RearmEpochNS, "the re-sent re-arm's epoch, on the first tick after it")
		} else {
			require.Zero(t, tk.RearmEpochNS, "tick %d", k)
		}
	}
	require.Equal(t, uint32(1), throws[1].Seq)
	require.Equal(t, throws[0].Ticks[8].NowNS, throws[1].PrevNS, "the next throw follows on (a replay needs no gap)")

	// Both throws replay as one stretch, command for command.
	cfg := DefaultConfig()
	reps, err := Replay(&cfg, rob, throws, 1e-9)
	require.NoError(t, err)
	require.Len(t, reps, 2)
	for _, r := range reps {
		require.Equal(t, -1, r.FirstDiffTick, "throw %d", r.Seq)
		require.Zero(t, r.ModeMismatches)
	}
}
